module github.com/dualrun/dualrun/dashboards

go 1.26.0

replace (
	github.com/dualrun/dualrun => ../
	github.com/dualrun/dualrun/examples => ../examples
)
