import Testing
import ZeroMQ

@Suite struct ZAPAuthenticatorTests {
    /// A CURVE ROUTER behind a ZAP authenticator that admits only `allowed`.
    struct Server {
        let context: ZMQContext
        let authenticator: ZAPAuthenticator
        let router: ZMQSocket
        let endpoint: String
        let keys: CurveKeyPair
        let denials = Inbox<ZAPAuthenticator.Denial>()

        init(allowed: Set<String>) throws {
            context = try ZMQContext()
            keys = try CurveKeyPair.generate()
            let denials = denials
            authenticator = ZAPAuthenticator(context: context, allowedPublicKeys: allowed) { denials.put($0) }
            try authenticator.start()
            (router, endpoint) = try SocketPairs.bound(context, .router, [
                .curveServer(true), .curveSecretKey(keys.secretKey), .zapDomain("reflex"),
            ])
        }

        func client(_ clientKeys: CurveKeyPair, receiveTimeoutMs: Int = SocketPairs.safetyTimeoutMs) throws -> ZMQSocket {
            try SocketPairs.connected(context, .dealer, to: endpoint, [
                .curveServerKey(keys.publicKey), .curvePublicKey(clientKeys.publicKey),
                .curveSecretKey(clientKeys.secretKey), .receiveTimeout(milliseconds: receiveTimeoutMs),
            ])
        }
    }

    @Test func anAdmittedClientGetsThrough() throws {
        let clientKeys = try CurveKeyPair.generate()
        let server = try Server(allowed: [clientKeys.publicKey])
        let client = try server.client(clientKeys)
        try client.send(["", "step"])
        let request = try server.router.receiveMultipart()
        #expect(request.strings.suffix(2) == ["", "step"])
        #expect(request[2].property("User-Id") == clientKeys.publicKey)
        try server.router.send([request[0], ZMQMessage(), ZMQMessage("action")])
        #expect(try client.receiveMultipart().strings == ["", "action"])
        #expect(server.authenticator.admissionCount >= 1)
        #expect(server.authenticator.denialCount == 0)
        server.authenticator.stop()
    }

    @Test func aClientWithAnUnknownKeyGetsNothingAndIsCounted() throws {
        let allowed = try CurveKeyPair.generate()
        let intruderKeys = try CurveKeyPair.generate()
        let server = try Server(allowed: [allowed.publicKey])
        let intruder = try server.client(intruderKeys, receiveTimeoutMs: 200)
        try intruder.send(["", "let me in"])

        #expect(server.denials.waitForOne())
        #expect {
            _ = try intruder.receiveMultipart()
        } throws: { error in
            (error as? ZMQError)?.isWouldBlock == true
        }
        #expect(try server.router.tryReceiveMultipart() == nil)
        #expect(server.authenticator.denialCount >= 1)
        let denial = try #require(server.denials.all.first)
        #expect(denial.request.mechanism == "CURVE")
        #expect(denial.request.clientPublicKey == intruderKeys.publicKey)
        #expect(denial.request.domain == "reflex")
        #expect(server.authenticator.admissionCount == 0)
        server.authenticator.stop()
    }

    struct PolicyBroke: Error {}

    /// A handler that fails stays bound and silent: the client that made it fail and every later
    /// one (even an allowed key) get nothing, instead of libzmq admitting them with no handler.
    @Test func aFailedHandlerFailsClosedAndSaysWhy() throws {
        let allowed = try CurveKeyPair.generate()
        let server = try Server(allowed: [allowed.publicKey])
        server.authenticator.setPolicy { _ in throw PolicyBroke() }
        let first = try server.client(allowed, receiveTimeoutMs: 300)
        try first.send(["", "one"])
        #expect(throws: ZMQError.self) { _ = try first.receiveMultipart() }
        #expect(server.authenticator.failure?.contains("ZAP policy failed") == true)
        server.authenticator.setAllowedPublicKeys([allowed.publicKey])
        let second = try server.client(allowed, receiveTimeoutMs: 300)
        try second.send(["", "two"])
        #expect(throws: ZMQError.self) { _ = try second.receiveMultipart() }
        #expect(try server.router.tryReceiveMultipart() == nil)
        server.authenticator.stop()
        #expect(!server.authenticator.isRunning)
    }

    @Test func replacingTheAllowedKeysAdmitsANewClient() throws {
        let later = try CurveKeyPair.generate()
        let server = try Server(allowed: [])
        server.authenticator.setAllowedPublicKeys([later.publicKey])
        let client = try server.client(later)
        try client.send(["hello"])
        #expect(try server.router.receiveMultipart()[1].string == "hello")
        server.authenticator.stop()
    }

    @Test func aSecondAuthenticatorOnTheSameContextCannotStart() throws {
        let context = try ZMQContext()
        let first = ZAPAuthenticator(context: context, allowedPublicKeys: [])
        try first.start()
        let second = ZAPAuthenticator(context: context, allowedPublicKeys: [])
        #expect(throws: ZMQError.self) { try second.start() }
        #expect(first.isRunning)
        first.stop()
        first.stop()
        #expect(!first.isRunning)
        try second.start()
        second.stop()
        context.terminate()
    }
}
