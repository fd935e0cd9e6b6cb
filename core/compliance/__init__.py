"""The accounts of issue 10 that are not metrics: a site's self-assessment
against its standards (达标自评) and the county's review, staffing coverage,
the staff assessment (考核) and the stations' work log (工作日志)."""
