// MathJax 3 for pymdownx.arithmatex (generic mode); served from this site, never a CDN.
window.MathJax = {
  tex: {
    inlineMath: [["\\(", "\\)"]],
    displayMath: [["\\[", "\\]"]],
    processEscapes: true,
    processEnvironments: true,
  },
  options: {
    ignoreHtmlClass: ".*|",
    processHtmlClass: "arithmatex|md-nav__link|md-ellipsis",
    enableMenu: false,
  },
  svg: { fontCache: "global" },
};
