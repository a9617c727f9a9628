import ReflexDaemon
/// The valid inputs every fuzz run starts from, besides the corpus files: requests for the tiny
/// fixture's inputs (image uint8[32, 32, 3], state float32[4]) in each envelope a client may
/// use, and configs that load.
enum FuzzSeeds {
    /// What a ROUTER makes up for a peer: 5 bytes, a zero first.
    static let identity: [UInt8] = [0x00, 0x6B, 0x8B, 0x45, 0x67]
    static let image: [UInt8] = (0..<32 * 32 * 3).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
    static let state: [UInt8] = [Float(0.5), -1, 2.25, 0].flatMap { value -> [UInt8] in
        let bits = value.bitPattern
        return [UInt8(truncatingIfNeeded: bits), UInt8(truncatingIfNeeded: bits >> 8),
                UInt8(truncatingIfNeeded: bits >> 16), UInt8(truncatingIfNeeded: bits >> 24)]
    }
    static let stepHeader = Array(#"""
        {"v":1,"type":"step","robot":"arm-1","seq":7,"instruction":"open the drawer","tensors":[{"name":"image","dtype":"uint8","shape":[32,32,3]},{"name":"state","dtype":"float32","shape":[4]}]}
        """#.utf8)
    static let reorderedStepHeader = Array(#"""
        { "seq": 18446744073709551615, "robot": "R.2_x-9", "type": "step", "v": 1, "deadline_ms": 12.5,
          "instruction": "pick up the red block \u00e9\ud83d\ude00", "extra": {"ignored": [1, 2.5e-3, null]},
          "tensors": [ {"shape": [4], "dtype": "float32", "name": "state"}, {"name": "image", "shape": [32, 32, 3], "dtype": "uint8"} ] }
        """#.utf8)

    static let wire: [(name: String, frames: [[UInt8]])] = [
        ("built-in step", [identity, stepHeader, image, state]),
        ("built-in step from REQ", [identity, [], stepHeader, image, state]),
        ("built-in step through a proxy", [identity, Array("proxy-hop".utf8), [], stepHeader, image, state]),
        ("built-in step, tensors reordered", [identity, reorderedStepHeader, state, image]),
        ("built-in ping", [identity, Array(#"{"v":1,"type":"ping","seq":1}"#.utf8)]),
        ("built-in ping with robot", [identity, [], Array(#"{"v":1,"type":"ping","robot":"arm-1","seq":0}"#.utf8)]),
        ("built-in reset", [identity, Array(#"{"v":1,"type":"reset","robot":"arm-1","seq":2}"#.utf8)]),
    ]

    static let config: [(name: String, text: [UInt8])] = [
        ("built-in minimal.yaml", Array("model: ../models/default\n".utf8)),
        ("built-in every-key.yaml", Array("""
            model: ../models/default
            endpoints:
              policy: tcp://127.0.0.1:5555
              actions: ipc://run/actions.sock
              control: inproc://control
            budget:
              average_gflops: 0.3
              deadline_ms: 50
              memory_mb: 12.5
            scheduler: {mode: fixed, probe_rate: 0, window: 1}
            engine:
              threads: 2
            limits:
              max_message_bytes: 65536
              max_sessions: 1
              session_idle_s: 0.5
              pending_per_robot: 4
            logging:
              level: debug
            security:
              curve:
                enabled: true
                server_secret_key: keys/server.secret
                authorized_keys: keys/clients
                operator_keys: keys/operators

            """.utf8)),
    ]
}
