import Foundation
internal import NIOCore
internal import NIOHTTP1
internal import NIOPosix
internal import Prometheus

/// The HTTP listener of `metrics.listen`: `GET /metrics` renders the registry in the Prometheus
/// text exposition format. It runs on an event-loop thread of its own, never on the serving
/// thread, so a scrape (or a scraper that reads slowly) costs a step nothing but the metric
/// locks. Bounded: at most `maxConnections` at once (more are closed on accept), and a
/// connection quiet for `idleSeconds` is closed.
final class MetricsEndpoint {
    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private let channel: Channel
    /// The bound `HOST:PORT` (the real port when the config said 0).
    let boundAddress: String

    /// Binds and starts serving; throws when it cannot (e.g. the port is taken).
    init(config: MetricsConfig, registry: PrometheusCollectorRegistry, maxConnections: Int = 16, idleSeconds: Int64 = 10) throws {
        let open = OpenConnections()
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 16)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                // One event loop: every child channel's callbacks run on the same thread.
                guard open.count < maxConnections else { return channel.close() }
                open.count += 1
                channel.closeFuture.whenComplete { _ in open.count -= 1 }
                return channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.addHandler(IdleStateHandler(allTimeout: .seconds(idleSeconds)))
                    try pipeline.configureHTTPServerPipeline(withErrorHandling: true)
                    try pipeline.addHandler(MetricsHTTPHandler(registry: registry))
                }
            }
        do {
            channel = try bootstrap.bind(host: config.host, port: Int(config.port)).wait()
        } catch {
            try? group.syncShutdownGracefully()
            throw DaemonError(.metrics, "metrics.listen: cannot listen on \(config.listen): \(error)")
        }
        let port = channel.localAddress?.port ?? Int(config.port)
        boundAddress = config.host.contains(":") ? "[\(config.host)]:\(port)" : "\(config.host):\(port)"
    }

    /// Closes the listener and its connections (waits at most `timeoutSeconds`).
    func stop(timeoutSeconds: Double = 0.5) {
        let done = DispatchSemaphore(value: 0)
        group.shutdownGracefully(queue: .global()) { _ in done.signal() }
        _ = done.wait(timeout: .now() + timeoutSeconds)
    }

    /// Connections open now; touched only on the endpoint's one event loop.
    private final class OpenConnections: @unchecked Sendable {
        var count = 0
    }
}
