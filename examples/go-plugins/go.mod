module example.com/go-plugins

go 1.19

require github.com/airlock-dev/airlock/go/airlock v0.0.0

replace github.com/airlock-dev/airlock/go/airlock => ../../go/airlock
