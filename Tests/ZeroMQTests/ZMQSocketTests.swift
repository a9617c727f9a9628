import Foundation
import Testing
import ZeroMQ

@Suite struct ZMQSocketTests {
    @Test func dealerToRouterRoundTripCarriesTheRoutingID() throws {
        let context = try ZMQContext()
        let (router, endpoint) = try SocketPairs.bound(context, .router)
        let dealer = try SocketPairs.connected(context, .dealer, to: endpoint, [.routingID(Array("robot-7".utf8))])

        let payload: [UInt8] = [0, 1, 2, 255]
        try dealer.send([ZMQMessage(), ZMQMessage("hello"), ZMQMessage(copying: payload)])
        let request = try router.receiveMultipart()
        #expect(request.count == 4)
        #expect(request[0].string == "robot-7")
        #expect(request[1].isEmpty)
        #expect(request[2].string == "hello")
        #expect(request[3].bytes == payload)

        try router.send([request[0], ZMQMessage(), ZMQMessage("world")])
        let reply = try dealer.receiveMultipart()
        #expect(reply.strings == ["", "world"])
    }

    @Test func routerRepliesToTheRightPeerAmongTwo() throws {
        let context = try ZMQContext()
        let (router, endpoint) = try SocketPairs.bound(context, .router)
        let alice = try SocketPairs.connected(context, .dealer, to: endpoint, [.routingID(Array("alice".utf8))])
        let bob = try SocketPairs.connected(context, .dealer, to: endpoint, [.routingID(Array("bob".utf8))])
        try alice.send(["from alice"])
        try bob.send(["from bob"])

        var seen: [String] = []
        for _ in 0..<2 {
            let request = try router.receiveMultipart()
            let peer = request[0].string ?? ""
            seen.append(peer)
            #expect(request[1].string == "from \(peer)")
            try router.send([request[0], ZMQMessage("for \(peer)")])
        }
        #expect(seen.sorted() == ["alice", "bob"])
        #expect(try alice.receiveMultipart().strings == ["for alice"])
        #expect(try bob.receiveMultipart().strings == ["for bob"])
    }

    @Test func routerMandatoryRefusesAnUnknownPeer() throws {
        let context = try ZMQContext()
        let (router, _) = try SocketPairs.bound(context, .router, [.routerMandatory(true)])
        #expect {
            try router.send(["nobody", "hello"])
        } throws: { error in
            (error as? ZMQError)?.isHostUnreachable == true
        }
    }

    @Test func subscriberReceivesOnlyItsTopic() throws {
        let context = try ZMQContext()
        let (publisher, endpoint) = try SocketPairs.bound(context, .pub)
        let subscriber = try SocketPairs.connected(context, .sub, to: endpoint, [.subscribe("robot-a")])
        // A subscription reaches the publisher some time after connecting: publish until one arrives.
        var first: [ZMQMessage]?
        for round in 0..<500 where first == nil {
            try publisher.send(["robot-b", "b\(round)"])
            try publisher.send(["robot-a", "a\(round)"])
            let ready = try poll(subscriber, timeoutMs: 20)
            if ready { first = try subscriber.tryReceiveMultipart() }
        }
        let message = try #require(first)
        #expect(message[0].string == "robot-a")
        try publisher.send(["robot-b", "last b"])
        try publisher.send(["robot-a", "last a"])
        var received = [message]
        while true {
            let next = try subscriber.receiveMultipart()
            received.append(next)
            if next[1].string == "last a" { break }
        }
        #expect(received.allSatisfy { $0[0].string == "robot-a" })
    }

    @Test func requestReplyRoundTrip() throws {
        let context = try ZMQContext()
        let (rep, endpoint) = try SocketPairs.bound(context, .rep)
        let req = try SocketPairs.connected(context, .req, to: endpoint)
        try req.send(["ping", "1"])
        #expect(try rep.receiveMultipart().strings == ["ping", "1"])
        try rep.send(["pong"])
        #expect(try req.receiveMultipart().strings == ["pong"])
    }

    @Test func tryReceiveReturnsNilWhenNothingWaits() throws {
        let context = try ZMQContext()
        let (router, _) = try SocketPairs.bound(context, .router)
        #expect(try router.tryReceiveMultipart() == nil)
    }

    @Test func blockingReceiveFailsWithWouldBlockAfterReceiveTimeout() throws {
        let context = try ZMQContext()
        let (dealer, _) = try SocketPairs.bound(context, .dealer, [.receiveTimeout(milliseconds: 10)])
        #expect {
            _ = try dealer.receiveMultipart()
        } throws: { error in
            (error as? ZMQError)?.isWouldBlock == true
        }
    }

    @Test func trySendReturnsFalseWhenNoPeerCanTakeTheMessage() throws {
        let context = try ZMQContext()
        let dealer = try SocketPairs.socket(context, .dealer)
        #expect(try dealer.trySend([ZMQMessage("nobody listens")]) == false)
    }

    @Test func maxMessageSizeDropsAnOversizeMessage() throws {
        let context = try ZMQContext()
        let (router, endpoint) = try SocketPairs.bound(context, .router, [.maxMessageSize(bytes: 1000)])
        let dealer = try SocketPairs.connected(context, .dealer, to: endpoint)
        try dealer.send([[UInt8](repeating: 7, count: 2000)])
        // The oversize frame costs the dealer its connection; it reconnects and later small
        // messages get through. The first message the router sees must be a small one.
        var first: [ZMQMessage]?
        for round in 0..<500 where first == nil {
            try dealer.send(["small \(round)"])
            if try poll(router, timeoutMs: 20) { first = try router.tryReceiveMultipart() }
        }
        let message = try #require(first)
        #expect(message.count == 2)
        #expect(message[1].string?.hasPrefix("small") == true)
        #expect(try router.maxMessageSize == 1000)
    }

    @Test func anIPCPathALiveSocketListensOnIsRefusedAndAStaleOneIsBound() throws {
        let context = try ZMQContext()
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("zmq-\(UUID().uuidString.prefix(8)).sock").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let first = try context.socket(.rep)
        try first.bind("ipc://" + path)
        let second = try context.socket(.rep)
        // libzmq alone would unlink the path and take it over; the first socket must keep it
        #expect(throws: ZMQError.self) { try second.bind("ipc://" + path) }
        do { try second.bind("ipc://" + path) } catch let e as ZMQError { #expect(e.code == EADDRINUSE && e.message.contains(path)) }
        let client = try SocketPairs.connected(context, .req, to: "ipc://" + path, [])
        try client.send(["still there?"])
        #expect(try first.receiveMultipart().strings == ["still there?"])
        // a file nobody listens on (left by a crash) is no obstacle
        first.close()
        FileManager.default.createFile(atPath: path, contents: Data())
        try second.bind("ipc://" + path)
    }

    @Test func lastEndpointResolvesAWildcardPort() throws {
        let context = try ZMQContext()
        let rep = try SocketPairs.socket(context, .rep)
        try rep.bind("tcp://127.0.0.1:*")
        let endpoint = try rep.lastEndpoint
        #expect(endpoint.hasPrefix("tcp://127.0.0.1:"))
        let port = Int(endpoint.dropFirst("tcp://127.0.0.1:".count)) ?? 0
        #expect(port > 0 && port < 65536)
        let req = try SocketPairs.connected(context, .req, to: endpoint)
        try req.send(["hi"])
        #expect(try rep.receiveMultipart().strings == ["hi"])
        try rep.unbind(endpoint)
    }

    @Test func optionsReadBackAsSet() throws {
        let context = try ZMQContext()
        let socket = try context.socket(.dealer)
        try socket.set(.linger(milliseconds: 0))
        try socket.set(.receiveTimeout(milliseconds: 250))
        try socket.set(.sendTimeout(milliseconds: 125))
        try socket.set(.routingID([1, 2, 3]))
        try socket.set(.heartbeatInterval(milliseconds: 1000))
        try socket.set(.heartbeatTimeout(milliseconds: 3000))
        try socket.set(.heartbeatTTL(milliseconds: 6000))
        try socket.set(.immediate(true))
        try socket.set(.sendHighWaterMark(messages: 10))
        try socket.set(.receiveHighWaterMark(messages: 10))
        #expect(try socket.linger == 0)
        #expect(try socket.receiveTimeout == 250)
        #expect(try socket.sendTimeout == 125)
        #expect(try socket.routingID == [1, 2, 3])
        #expect(try socket.fileDescriptor >= 0)
        #expect(try socket.events.contains(.readable) == false)
    }

    @Test func aClosedSocketThrowsInsteadOfCrashing() throws {
        let context = try ZMQContext()
        let socket = try context.socket(.dealer)
        socket.close()
        socket.close()
        #expect(socket.isClosed)
        #expect(throws: ZMQError.self) { try socket.connect("tcp://127.0.0.1:1") }
        #expect(throws: ZMQError.self) { try socket.tryReceiveMultipart() }
    }

    @Test func contextShutdownWakesABlockedReceiveWithETERM() throws {
        let context = try ZMQContext()
        let socket = try SocketPairs.socket(context, .pull, [.receiveTimeout(milliseconds: -1)])
        try socket.bind("inproc://shutdown-test")
        let outcome = Inbox<Bool>()
        let thread = Thread {
            do {
                _ = try socket.receiveMultipart()
                outcome.put(false)
            } catch {
                outcome.put((error as? ZMQError)?.isContextTerminated == true)
            }
            socket.close()
        }
        thread.start()
        context.shutdown()
        #expect(outcome.waitForOne())
        #expect(outcome.all == [true])
        context.terminate()
    }

    @Test func badEndpointsAndKeysThrowZMQError() throws {
        let context = try ZMQContext()
        let socket = try context.socket(.router)
        #expect(throws: ZMQError.self) { try socket.bind("nonsense://x") }
        #expect(throws: ZMQError.self) { try socket.set(.curveSecretKey("too short")) }
        #expect(throws: ZMQError.self) { try socket.set(.linger(milliseconds: Int.max)) }
    }

    @Test func libraryReportsVersionAndCurve() {
        #expect(zmqVersion.split(separator: ".").count == 3)
        #expect(hasCapability("curve"))
        #expect(!hasCapability("no-such-capability"))
    }

    private func poll(_ socket: ZMQSocket, timeoutMs: Int) throws -> Bool {
        let poller = ZMQPoller()
        try poller.add(socket)
        return try poller.poll(timeoutMs: timeoutMs)[0].contains(.readable)
    }
}
