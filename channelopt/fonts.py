"""Chinese (CJK) text in charts: find an installed CJK font and add it as matplotlib's fallback.

matplotlib's default font (DejaVu Sans) has no Chinese glyphs, so region, outlet and
distributor names drew as empty boxes with a "Glyph missing" warning each. channelopt's
charts call :func:`use_cjk_font`, which appends the first CJK family found to
``rcParams["font.family"]``: Latin text keeps the user's font, and only the glyphs it
lacks come from the CJK font (matplotlib >= 3.6 falls back glyph by glyph).

Fonts looked for, in order: Noto Sans CJK SC and Source Han Sans SC (SIL Open Font
License 1.1), WenQuanYi, SimHei, Microsoft YaHei, PingFang SC, Heiti. On Debian/Ubuntu
``apt-get install fonts-noto-cjk`` provides the first; ``make test`` and CI install it.
"""

from __future__ import annotations

import glob
import logging

__all__ = ["CJK_FAMILIES", "find_cjk_font", "use_cjk_font"]

log = logging.getLogger(__name__)

#: CJK font families, preferred first.
CJK_FAMILIES = (
    "Noto Sans CJK SC", "Source Han Sans SC", "Noto Sans SC", "Source Han Sans CN", "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei", "SimHei", "Microsoft YaHei", "PingFang SC", "Heiti SC", "Noto Serif CJK SC",
    "Noto Sans CJK JP", "AR PL UMing CN",
)
# Files to register when matplotlib's font cache predates the font's installation.
_FONT_GLOBS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/**/NotoSansCJK*Regular*.tt[cf]",
    "/usr/share/fonts/**/NotoSansCJK*Regular*.otf",
    "/usr/share/fonts/**/SourceHanSans*Regular*.[ot]t[cf]",
    "/usr/share/fonts/**/wqy-zenhei.ttc",
    "/usr/share/fonts/**/wqy-microhei.ttc",
    "/Library/Fonts/*PingFang*.ttc",
    "/System/Library/Fonts/PingFang.ttc",
    "C:/Windows/Fonts/msyh.tt[cf]",
    "C:/Windows/Fonts/simhei.ttf",
)
_WARNED = False


def _known() -> set[str]:
    from matplotlib import font_manager

    return {f.name for f in font_manager.fontManager.ttflist}


def find_cjk_font() -> str | None:
    """The first installed CJK font family, or None.

    Fonts installed after matplotlib built its font cache are registered from the usual
    system folders.

    Examples
    --------
    >>> name = find_cjk_font()
    >>> name is None or isinstance(name, str)
    True
    """
    names = _known()
    for family in CJK_FAMILIES:
        if family in names:
            return family
    from matplotlib import font_manager

    for pattern in _FONT_GLOBS:
        for path in sorted(glob.glob(pattern, recursive=True)):
            try:
                font_manager.fontManager.addfont(path)
            except (OSError, RuntimeError, ValueError):  # unreadable font file: try the next
                continue
    names = _known()
    return next((family for family in CJK_FAMILIES if family in names), None)


def use_cjk_font() -> str | None:
    """Make matplotlib draw Chinese text: add a CJK font as fallback; return its family or None.

    Idempotent and cheap after the first call. Without any CJK font it logs once how to
    install one and changes nothing.

    Examples
    --------
    >>> import matplotlib
    >>> family = use_cjk_font()
    >>> family is None or family in matplotlib.rcParams["font.family"]
    True
    """
    global _WARNED
    import matplotlib

    current = list(matplotlib.rcParams["font.family"])
    present = next((f for f in current if f in CJK_FAMILIES), None)
    if present:
        return present
    family = find_cjk_font()
    if family is None:
        if not _WARNED:
            log.warning("no CJK font found: Chinese names will draw as boxes. Install one, e.g. "
                        "`apt-get install fonts-noto-cjk` (Debian/Ubuntu), or Noto Sans CJK SC / Source Han Sans "
                        "SC (SIL OFL 1.1) on other systems.")
            _WARNED = True
        return None
    matplotlib.rcParams["font.family"] = current + [family]
    return family
