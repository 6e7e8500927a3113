// Command etcd is the upstream etcd server, built from its Go module so the tests need no
// prebuilt download. It mirrors go.etcd.io/etcd/v3's own main.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
