"""Geography: adjacency graphs from polygons or points, and distances.

Distances are haversine kilometres for geographic (lon/lat) coordinates and the CRS
unit (usually metres) for projected ones; road-graph shortest paths are optional.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import geopandas as gpd
import networkx as nx
import numpy as np
import shapely

from .exceptions import SettingsError, ValidationError, format_ids

__all__ = [
    "EARTH_RADIUS_KM",
    "adjacency_graph",
    "haversine_km",
    "pairwise_distances",
    "road_distances",
    "bridge_components",
]

EARTH_RADIUS_KM = 6371.0088


def haversine_km(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Great-circle distance in km between points given in degrees (broadcasting).

    Examples
    --------
    >>> round(float(haversine_km(116.40, 39.90, 121.47, 31.23)), 0)   # Beijing - Shanghai
    1067.0
    """
    lon1, lat1, lon2, lat2 = (np.radians(np.asarray(a, dtype=float)) for a in (lon1, lat1, lon2, lat2))
    dlat = lat2 - lat1
    dlon = lon2 - lon1
    h = np.sin(dlat / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def pairwise_distances(a_xy: np.ndarray, b_xy: np.ndarray, geographic: bool) -> np.ndarray:
    """Distance matrix between two point sets, shape ``(len(a_xy), len(b_xy))``.

    Parameters
    ----------
    a_xy, b_xy : array of shape (n, 2)
        x/y (or lon/lat) coordinates.
    geographic : bool
        Haversine km if True, Euclidean in CRS units otherwise.
    """
    a_xy = np.asarray(a_xy, dtype=float).reshape(-1, 2)
    b_xy = np.asarray(b_xy, dtype=float).reshape(-1, 2)
    if geographic:
        return haversine_km(a_xy[:, None, 0], a_xy[:, None, 1], b_xy[None, :, 0], b_xy[None, :, 1])
    diff = a_xy[:, None, :] - b_xy[None, :, :]
    return np.sqrt(np.einsum("ijk,ijk->ij", diff, diff))


def adjacency_graph(
    regions: gpd.GeoDataFrame, id_column: str = "region_id", contiguity: str = "queen"
) -> nx.Graph:
    """Region adjacency graph, one node per region.

    Parameters
    ----------
    regions : GeoDataFrame
        Polygons (rook or queen contiguity) or points (Delaunay neighbours).
    id_column : str
        Column holding the node ids.
    contiguity : {"queen", "rook", "delaunay"}
        ``"queen"``: polygons touching at a point or along an edge; ``"rook"``: polygons
        sharing a boundary of positive length; ``"delaunay"``: the Delaunay triangulation
        of representative points (the only choice for point regions).

    Returns
    -------
    networkx.Graph
        Edges carry ``length`` (shared boundary length in CRS units, 0 for a corner or
        a Delaunay edge).

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> g = gpd.GeoDataFrame({"region_id": ["a", "b", "c"]},
    ...                      geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1), box(2, 1, 3, 2)], crs=3857)
    >>> sorted(adjacency_graph(g, contiguity="queen").edges())
    [('a', 'b'), ('b', 'c')]
    >>> sorted(adjacency_graph(g, contiguity="rook").edges())
    [('a', 'b')]
    """
    if contiguity not in ("queen", "rook", "delaunay"):
        raise SettingsError(f"contiguity must be 'queen', 'rook' or 'delaunay', got {contiguity!r}.")
    ids = regions[id_column].to_numpy()
    geoms = regions.geometry.to_numpy()
    graph = nx.Graph()
    graph.add_nodes_from(ids.tolist())
    is_polygon = shapely.get_type_id(geoms) >= 3
    if contiguity == "delaunay" or not is_polygon.all():
        if contiguity != "delaunay" and is_polygon.any():
            raise ValidationError(
                "regions mix polygons and points; adjacency needs one kind. "
                "Pass points only (Delaunay) or give the graph as edges.",
                column="geometry",
            )
        pts = shapely.get_coordinates(shapely.point_on_surface(geoms))
        if len(pts) < 3:
            graph.add_edges_from(zip(ids[:-1].tolist(), ids[1:].tolist()), length=0.0)
            return graph
        from scipy.spatial import Delaunay, QhullError

        centred = pts - pts.mean(axis=0)
        if np.linalg.matrix_rank(centred, tol=1e-12 * max(1.0, float(np.abs(centred).max()))) < 2:
            # All on one line (or one point): Delaunay is undefined; neighbours along the line.
            axis = np.linalg.svd(centred, full_matrices=False)[2][0]
            order = np.argsort(centred @ axis, kind="stable")
            graph.add_edges_from(zip(ids[order[:-1]].tolist(), ids[order[1:]].tolist()), length=0.0)
            return graph
        try:
            tri = Delaunay(pts)
        except QhullError as exc:  # pragma: no cover - duplicate points in degenerate layouts
            raise ValidationError(f"regions: Delaunay adjacency failed ({str(exc).splitlines()[0]}); give the "
                                  f"graph as edges (region_a, region_b).", column="geometry") from None
        edges = set()
        for simplex in tri.simplices:
            for u, v in ((0, 1), (1, 2), (0, 2)):
                a, b = sorted((simplex[u], simplex[v]))
                edges.add((a, b))
        graph.add_edges_from(((ids[a], ids[b]) for a, b in edges), length=0.0)
        return graph
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    shared = shapely.intersection(shapely.boundary(geoms[left]), shapely.boundary(geoms[right]))
    length = shapely.length(shared)
    if contiguity == "rook":
        # A corner touch has zero length; tolerance absorbs floating noise in shared vertices.
        scale = np.sqrt(shapely.area(geoms).mean()) if len(geoms) else 1.0
        mask = length > 1e-9 * max(scale, 1e-12)
        left, right, length = left[mask], right[mask], length[mask]
    graph.add_edges_from(
        (ids[a], ids[b], {"length": float(w)}) for a, b, w in zip(left, right, length)
    )
    return graph


def bridge_components(graph: nx.Graph, coords: dict[Hashable, Sequence[float]], geographic: bool) -> nx.Graph:
    """Join each connected component to its nearest neighbour component.

    Islands (e.g. Hainan, Taiwan, Zhoushan) make exact contiguity impossible. This
    returns a copy of ``graph`` with one bridge edge per extra component, marked
    ``bridge=True``, between the closest pair of region centres.

    Examples
    --------
    >>> import networkx as nx
    >>> g = nx.Graph([("a", "b")]); g.add_node("island")
    >>> h = bridge_components(g, {"a": (0, 0), "b": (1, 0), "island": (1, 2)}, geographic=False)
    >>> sorted(h.edges(data="bridge", default=False))
    [('a', 'b', False), ('b', 'island', True)]
    """
    out = graph.copy()
    comps = [sorted(c, key=str) for c in nx.connected_components(out)]
    if len(comps) <= 1:
        return out
    comps.sort(key=len, reverse=True)
    main = list(comps[0])
    for comp in comps[1:]:
        a = np.array([coords[n] for n in main], dtype=float)
        b = np.array([coords[n] for n in comp], dtype=float)
        d = pairwise_distances(a, b, geographic)
        i, j = np.unravel_index(np.argmin(d), d.shape)
        out.add_edge(main[i], comp[j], length=0.0, bridge=True)
        main.extend(comp)
    return out


def road_distances(
    road_graph: nx.Graph,
    from_xy: np.ndarray,
    to_xy: np.ndarray,
    *,
    weight: str = "length",
    x: str = "x",
    y: str = "y",
) -> np.ndarray:
    """Shortest-path distances over a road graph between two point sets.

    Each point is snapped to its nearest graph node (by the node attributes ``x``/``y``);
    one Dijkstra run per distinct target node gives the whole column.

    Returns
    -------
    ndarray of shape (len(from_xy), len(to_xy))
        ``inf`` where the road graph does not connect the two points.
    """
    nodes = list(road_graph.nodes)
    try:
        node_xy = np.array([(road_graph.nodes[n][x], road_graph.nodes[n][y]) for n in nodes], dtype=float)
    except KeyError as exc:
        missing = [n for n in nodes if x not in road_graph.nodes[n] or y not in road_graph.nodes[n]]
        raise ValidationError(
            f"road graph nodes need '{x}' and '{y}' attributes; missing on nodes {format_ids(missing)}.",
            column=str(exc),
            ids=missing,
        ) from None
    from scipy.spatial import cKDTree

    tree = cKDTree(node_xy)
    _, src = tree.query(np.asarray(from_xy, dtype=float))
    _, dst = tree.query(np.asarray(to_xy, dtype=float))
    out = np.full((len(src), len(dst)), np.inf)
    for j, target in enumerate(dst):
        lengths = nx.single_source_dijkstra_path_length(road_graph, nodes[target], weight=weight)
        out[:, j] = [lengths.get(nodes[s], np.inf) for s in src]
    return out
