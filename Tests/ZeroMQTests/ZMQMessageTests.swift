import Foundation
import Testing
import ZeroMQ

@Suite struct ZMQMessageTests {
    @Test func framesBuiltInPlaceArriveIntact() throws {
        let context = try ZMQContext()
        let (pull, endpoint) = try SocketPairs.bound(context, .pull)
        let push = try SocketPairs.connected(context, .push, to: endpoint)
        let floats: [Float] = (0..<100_000).map { Float($0) * 0.5 }
        let frame = try ZMQMessage(count: floats.count * 4) { buffer in
            floats.withUnsafeBytes { buffer.copyMemory(from: $0) }
        }
        try push.send([ZMQMessage("header"), frame])
        let received = try pull.receiveMultipart()
        #expect(received[0].string == "header")
        let decoded = received[1].withUnsafeBytes { raw in
            (0..<raw.count / 4).map { raw.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) }
        }
        #expect(decoded == floats)
    }

    @Test func aFrameCanBeSentTwice() throws {
        let context = try ZMQContext()
        let (pull, endpoint) = try SocketPairs.bound(context, .pull)
        let push = try SocketPairs.connected(context, .push, to: endpoint)
        let large = try ZMQMessage(copying: [UInt8](repeating: 9, count: 4096))
        let small = try ZMQMessage(copying: Data([1, 2, 3]))
        try push.send([small, large])
        try push.send([small, large])
        for _ in 0..<2 {
            let message = try pull.receiveMultipart()
            #expect(message[0].bytes == [1, 2, 3])
            #expect(message[1].bytes == [UInt8](repeating: 9, count: 4096))
        }
        #expect(large.count == 4096)
    }

    @Test func zeroCopyFrameReleasesItsBufferOnceAfterSending() throws {
        let released = Inbox<Int>()
        let context = try ZMQContext()
        let (pull, endpoint) = try SocketPairs.bound(context, .pull)
        let push = try SocketPairs.connected(context, .push, to: endpoint)
        do {
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 64)
            for index in buffer.indices { buffer[index] = UInt8(truncatingIfNeeded: index) }
            let frame = try ZMQMessage(noCopy: buffer) { buffer in
                released.put(buffer.count)
                buffer.deallocate()
            }
            try push.send([frame])
            let received = try pull.receiveMultipart()
            #expect(received[0].bytes == (0..<(1 << 16)).map { UInt8(truncatingIfNeeded: $0) })
        }
        #expect(released.waitForOne())
        #expect(released.all == [1 << 16])
    }

    @Test func receivedFramesCarryThePeerAddress() throws {
        let context = try ZMQContext()
        let (router, endpoint) = try SocketPairs.bound(context, .router)
        let dealer = try SocketPairs.connected(context, .dealer, to: endpoint)
        try dealer.send(["hi"])
        let message = try router.receiveMultipart()
        #expect(message[1].property("Peer-Address") == "127.0.0.1")
        #expect(message[1].property("No-Such-Property") == nil)
    }

    @Test func invalidUTF8HasNoString() throws {
        let frame = try ZMQMessage(copying: [0xff, 0xfe])
        #expect(frame.string == nil)
        #expect(ZMQMessage().isEmpty)
    }
}
