import Testing
import ZeroMQ

@Suite struct ZMQPollerTests {
    @Test func pollerReportsOnlyTheSocketWithAMessage() throws {
        let context = try ZMQContext()
        let (first, firstEndpoint) = try SocketPairs.bound(context, .pull)
        let (second, secondEndpoint) = try SocketPairs.bound(context, .pull)
        let toFirst = try SocketPairs.connected(context, .push, to: firstEndpoint)
        _ = try SocketPairs.connected(context, .push, to: secondEndpoint)

        let poller = ZMQPoller()
        let firstIndex = try poller.add(first)
        let secondIndex = try poller.add(second)
        #expect(try poller.poll(timeoutMs: 0) == [[], []])

        try toFirst.send(["wake"])
        let ready = try poller.poll(timeoutMs: -1)
        #expect(ready[firstIndex] == .readable)
        #expect(ready[secondIndex] == [])
        #expect(try first.tryReceiveMultipart()?.strings == ["wake"])
        #expect(try poller.poll(timeoutMs: 0) == [[], []])
    }

    @Test func pollerReportsWritableWhenAPeerIsConnected() throws {
        let context = try ZMQContext()
        let (rep, endpoint) = try SocketPairs.bound(context, .rep)
        let req = try SocketPairs.connected(context, .req, to: endpoint)
        let poller = ZMQPoller()
        try poller.add(req, events: .writable)
        #expect(try poller.poll(timeoutMs: -1) == [.writable])
        _ = rep
    }

    @Test func pollingAClosedSocketThrows() throws {
        let context = try ZMQContext()
        let socket = try context.socket(.dealer)
        let poller = ZMQPoller()
        try poller.add(socket)
        socket.close()
        #expect(throws: ZMQError.self) { try poller.poll(timeoutMs: 0) }
    }
}
