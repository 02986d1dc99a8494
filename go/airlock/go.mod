module github.com/airlock-dev/airlock/go/airlock

go 1.19
