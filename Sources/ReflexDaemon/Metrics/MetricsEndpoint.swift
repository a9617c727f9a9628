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
            throw MetricsEndpointError("metrics.listen: cannot listen on \(config.listen): \(error)")
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

/// One HTTP/1.1 connection: `GET /metrics` (or HEAD) answers the exposition; anything else 404
/// or 405. Every response closes the connection (a scrape is one request).
final class MetricsHTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let registry: PrometheusCollectorRegistry
    private var head: HTTPRequestHead?

    init(registry: PrometheusCollectorRegistry) { self.registry = registry }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h): head = h
        case .body: break
        case .end:
            if let h = head { respond(context: context, to: h) }
            head = nil
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent { context.close(promise: nil) } else { context.fireUserInboundEventTriggered(event) }
    }

    private func respond(context: ChannelHandlerContext, to request: HTTPRequestHead) {
        let path = request.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? ""
        let status: HTTPResponseStatus
        let body: [UInt8]
        if request.method != .GET && request.method != .HEAD {
            (status, body) = (.methodNotAllowed, Array("only GET /metrics\n".utf8))
        } else if path != "/metrics" {
            (status, body) = (.notFound, Array("not found: reflexd serves /metrics\n".utf8))
        } else {
            (status, body) = (.ok, registry.emitToBuffer())
        }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: status == .ok ? "text/plain; version=0.0.4; charset=utf-8" : "text/plain; charset=utf-8")
        headers.add(name: "Content-Length", value: "\(body.count)")
        headers.add(name: "Connection", value: "close")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: status, headers: headers))), promise: nil)
        if request.method != .HEAD {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
        }
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in bound.value.close(promise: nil) }
    }
}

/// The metrics listener could not start.
struct MetricsEndpointError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
