// The stylesheet of report.html: system fonts only, light and dark from prefers-color-scheme,
// chart colours as classes so the inline SVG follows the theme.
export const REPORT_CSS = `
:root{color-scheme:light dark;--bg:#fff;--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--card:#f6f8fa;
--pass:#1a7f37;--pass-bg:#dafbe1;--fail:#cf222e;--fail-bg:#ffebe9;--s1:#0969da;--s2:#bc4c00;--s3:#8250df}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9198a1;--line:#3d444d;--card:#151b23;
--pass:#3fb950;--pass-bg:#12261e;--fail:#f85149;--fail-bg:#2d1619;--s1:#4493f8;--s2:#db6d28;--s3:#ab7df8}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
header,main,footer{max-width:1120px;margin:0 auto;padding:0 16px}
header{padding-top:16px;border-bottom:1px solid var(--line)}
h1{font-size:22px;margin:8px 0}h2{font-size:19px;margin:0 0 6px}h3{font-size:15px;margin:22px 0 6px}
a{color:var(--s1)}
.muted,.note{color:var(--muted)}.note{font-size:12.5px;margin:4px 0}
.badge{display:inline-block;padding:1px 9px;border-radius:11px;font-size:12px;font-weight:600;vertical-align:middle;border:1px solid}
.badge.pass{color:var(--pass);background:var(--pass-bg);border-color:var(--pass)}
.badge.fail{color:var(--fail);background:var(--fail-bg);border-color:var(--fail)}
.badge.neutral{color:var(--muted);border-color:var(--line)}
.badge.warn{color:var(--s2);border-color:var(--s2)}
p.counts .badge{margin-right:4px}
tr.stale>td{font-style:italic}
nav ul{list-style:none;padding:0;margin:8px 0 16px}nav li{margin:3px 0}
section.scenario{margin:24px 0;padding:16px;border:1px solid var(--line);border-radius:8px;background:var(--card)}
section.scenario.failed{border-color:var(--fail)}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:8px 0}
dl.meta dt{color:var(--muted)}dl.meta dd{margin:0}
.tablewrap{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:13px;background:var(--bg)}
th,td{border-bottom:1px solid var(--line);padding:4px 6px;text-align:left;vertical-align:top}
th{font-weight:600;color:var(--muted)}
caption{text-align:left}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.failed>td{background:var(--fail-bg)}
code,pre,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px}
pre{white-space:pre-wrap;word-break:break-word;margin:4px 0}
details>summary{cursor:pointer}
details.body>summary{color:var(--muted);font-size:12.5px;margin:4px 0}
.charts{display:flex;flex-wrap:wrap;gap:12px}
figure{margin:6px 0;padding:8px;background:var(--bg);border:1px solid var(--line);border-radius:6px;max-width:100%}
figcaption{font-size:12.5px;color:var(--muted);margin-top:4px}
svg.chart{max-width:100%;height:auto;display:block}
svg text{fill:var(--fg);font-size:11px}
svg .tick,svg .mklabel{fill:var(--muted)}svg .mklabel{font-size:10px}
svg .axlabel{fill:var(--muted);font-size:11.5px}
svg .heading{font-size:12px;font-weight:600}
svg .grid{stroke:var(--line);stroke-width:1}
svg .axis{stroke:var(--muted);stroke-width:1}
svg .ln{fill:none;stroke-width:2}
.ln-sessions{stroke:var(--s1)}.ln-routes{stroke:var(--s2)}.ln-messages{stroke:var(--s3)}
.bx-sessions{fill:var(--s1)}.bx-routes{fill:var(--s2)}.bx-messages{fill:var(--s3)}
.mk line{stroke:var(--muted);stroke-width:1;stroke-dasharray:3 3}
.mk-wait line{stroke:var(--s1)}
.mk-fail line,.mk-error line{stroke:var(--fail);stroke-width:1.5;stroke-dasharray:none}
.mk-restore line{stroke:var(--pass);stroke-width:1.5;stroke-dasharray:none}
.mk-assert path{fill:var(--fail)}
.band-wait{fill:var(--s1);opacity:.08}.band-nowait{fill:var(--fail);opacity:.12}
ol.hops{margin:4px 0 8px;padding-left:28px}ol.hops li{margin:1px 0}
ol.hops .at{font-weight:600}
ol.hops li.drop{color:var(--fail);font-weight:600}
.outcome-dropped{color:var(--fail);font-weight:600}.outcome-delivered{color:var(--pass);font-weight:600}
.outcome-fragmented{color:var(--s2);font-weight:600}
footer{padding:16px;color:var(--muted);font-size:12.5px}
@media print{section.scenario{break-inside:avoid-page}details{display:block}}
`;
