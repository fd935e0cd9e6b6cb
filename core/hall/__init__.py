"""The public service hall (办事大厅) and what a citizen asks of it without
an account: the site directory with each site's hours (延时 sessions
included), items and staff board; appointments at a site; home-visit
(上门) requests. The staff side is the work list of today's and tomorrow's
appointments and the open home visits (``/work``)."""
