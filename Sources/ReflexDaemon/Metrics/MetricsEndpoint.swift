internal import FlyingFox
internal import FlyingSocks
import Foundation
internal import Prometheus

/// The HTTP listener of `metrics.listen`: `GET /metrics` renders the registry in the Prometheus
/// text exposition format. It runs on Swift's concurrency threads, never on the serving thread,
/// so a scrape (or a scraper that reads slowly) costs a step nothing but the metric locks.
final class MetricsEndpoint: @unchecked Sendable {
    private let server: HTTPServer
    private var task: Task<Void, Error>?
    /// The bound `HOST:PORT` (the real port when the config said 0).
    private(set) var boundAddress = ""

    /// - Parameter timeoutSeconds: how long one request may take before its connection is dropped.
    init(config: MetricsConfig, registry: PrometheusCollectorRegistry, timeoutSeconds: Double = 5) throws {
        let address: any SocketAddress = config.host.contains(":")
            ? try sockaddr_in6.inet6(ip6: config.host, port: config.port)
            : try sockaddr_in.inet(ip4: config.host, port: config.port)
        server = HTTPServer(address: address, timeout: timeoutSeconds, logger: .disabled)
        self.registry = registry
    }

    private let registry: PrometheusCollectorRegistry

    /// Binds and starts serving; returns once listening, or throws (e.g. the port is taken).
    func start(timeoutSeconds: Double = 5) throws {
        let server = self.server, registry = self.registry
        let ready = DispatchSemaphore(value: 0)
        let outcome = Outcome()
        task = Task {
            await server.appendRoute("GET /metrics") { _ in
                HTTPResponse(statusCode: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                             body: Data(registry.emitToBuffer()))
            }
            let listening = Task {
                do {
                    try await server.waitUntilListening(timeout: timeoutSeconds)
                    outcome.set(address: await server.listeningAddress)
                } catch {
                    outcome.set(error: error)
                }
                ready.signal()
            }
            do {
                try await server.run()
            } catch {
                outcome.set(error: error)
                listening.cancel()
                ready.signal()
                throw error
            }
        }
        guard ready.wait(timeout: .now() + timeoutSeconds + 1) == .success else {
            throw MetricsEndpointError("metrics.listen: not listening after \(timeoutSeconds) s")
        }
        let (address, error) = outcome.value
        if let error { throw MetricsEndpointError("metrics.listen: cannot serve: \(error)") }
        switch address {
        case .ip4(let host, let port): boundAddress = "\(host):\(port)"
        case .ip6(let host, let port): boundAddress = "[\(host)]:\(port)"
        default: throw MetricsEndpointError("metrics.listen: not listening")
        }
    }

    /// Closes the listener and its connections (waits at most `timeoutSeconds`).
    func stop(timeoutSeconds: Double = 0.3) {
        guard let task else { return }
        let stopped = DispatchSemaphore(value: 0)
        let server = self.server
        Task {
            await server.stop(timeout: 0)
            stopped.signal()
        }
        _ = stopped.wait(timeout: .now() + timeoutSeconds)
        task.cancel()
        self.task = nil
    }

    /// The first result of starting: the bound address or an error.
    private final class Outcome: @unchecked Sendable {
        private let lock = NSLock()
        private var address: Socket.Address?
        private var error: Error?
        func set(address: Socket.Address?) { lock.withLock { if self.address == nil && error == nil { self.address = address } } }
        func set(error: Error) { lock.withLock { if address == nil && self.error == nil { self.error = error } } }
        var value: (Socket.Address?, Error?) { lock.withLock { (address, error) } }
    }
}

/// The metrics listener could not start.
struct MetricsEndpointError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
