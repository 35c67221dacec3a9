// The Go reference for test/e2e/stargz-lazy.e2e.sh (E2E_STARGZ_REF=1): a minimal
// containerd-stargz-grpc built on the stargz-snapshotter v0.12 library packages Debian 12 ships
// (golang-github-containerd-stargz-snapshotter-dev); Debian does not package the daemon itself.
// Serves the snapshotter over containerd's snapshots gRPC API on a unix socket, so containerd can
// use it as a proxy_plugins snapshotter in place of snaphost's stargz-lazy. Built by
// test/e2e/lib/stargz-ref.sh (GOPATH mode, offline).
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	snapshotsapi "github.com/containerd/containerd/api/services/snapshots/v1"
	"github.com/containerd/containerd/contrib/snapshotservice"
	"github.com/containerd/containerd/log"
	"github.com/containerd/stargz-snapshotter/service"
	"github.com/pelletier/go-toml"
	"github.com/sirupsen/logrus"
	"google.golang.org/grpc"
)

const (
	defaultAddress    = "/run/containerd-stargz-grpc/containerd-stargz-grpc.sock"
	defaultConfigPath = "/etc/containerd-stargz-grpc/config.toml"
	defaultRootDir    = "/var/lib/containerd-stargz-grpc"
)

var (
	address    = flag.String("address", defaultAddress, "address for the snapshotter's GRPC server")
	configPath = flag.String("config", defaultConfigPath, "path to the configuration file (optional)")
	logLevel   = flag.String("log-level", "info", "set the logging level [trace, debug, info, warn, error, fatal, panic]")
	rootDir    = flag.String("root", defaultRootDir, "path to the root directory for this snapshotter")
)

func main() {
	flag.Parse()
	lvl, err := logrus.ParseLevel(*logLevel)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bad --log-level: %v\n", err)
		os.Exit(2)
	}
	logrus.SetLevel(lvl)
	logrus.SetFormatter(&logrus.JSONFormatter{TimestampFormat: log.RFC3339NanoFixed})
	ctx := log.WithLogger(context.Background(), log.L)

	var config service.Config
	if *configPath != "" {
		if _, statErr := os.Stat(*configPath); statErr == nil {
			tree, err := toml.LoadFile(*configPath)
			if err != nil {
				log.G(ctx).WithError(err).Fatalf("failed to load config file %q", *configPath)
			}
			if err := tree.Unmarshal(&config); err != nil {
				log.G(ctx).WithError(err).Fatalf("failed to unmarshal config file %q", *configPath)
			}
		} else if *configPath != defaultConfigPath {
			log.G(ctx).WithError(statErr).Fatalf("config file %q not found", *configPath)
		}
	}

	if err := service.Supported(*rootDir); err != nil {
		log.G(ctx).WithError(err).Fatalf("snapshotter is not supported")
	}

	rs, err := service.NewStargzSnapshotterService(ctx, *rootDir, &config)
	if err != nil {
		log.G(ctx).WithError(err).Fatalf("failed to configure snapshotter")
	}

	rpc := grpc.NewServer()
	snapshotsapi.RegisterSnapshotsServer(rpc, snapshotservice.FromSnapshotter(rs))

	if err := os.MkdirAll(filepath.Dir(*address), 0700); err != nil {
		log.G(ctx).WithError(err).Fatalf("failed to create directory %q", filepath.Dir(*address))
	}
	if err := os.RemoveAll(*address); err != nil {
		log.G(ctx).WithError(err).Fatalf("failed to remove %q", *address)
	}
	l, err := net.Listen("unix", *address)
	if err != nil {
		log.G(ctx).WithError(err).Fatalf("failed to listen on %q", *address)
	}
	errCh := make(chan error, 1)
	go func() { errCh <- rpc.Serve(l) }()
	log.G(ctx).WithField("address", *address).WithField("root", *rootDir).Info("serving stargz snapshotter")

	sigCh := make(chan os.Signal, 1)
	signal.Notify(sigCh, syscall.SIGINT, syscall.SIGTERM)
	select {
	case s := <-sigCh:
		log.G(ctx).Infof("got %v, shutting down (unmounting remote layers)", s)
	case err := <-errCh:
		log.G(ctx).WithError(err).Error("gRPC server stopped")
	}
	rpc.Stop()
	if err := rs.Close(); err != nil {
		log.G(ctx).WithError(err).Error("failed to close snapshotter")
	}
}
