"""Reports: the record of a run and the files made from rows and that record alone (report.csv,
run.json, report.md, heatmap.svg, repro folders), and diff between two report folders."""
