import ArgumentParser
import ReflexWire
import ZeroMQ
import Foundation
import ReflexDaemon
import ReflexTools

/// Options every command that talks to a running daemon shares.
struct DaemonConnection: ParsableArguments {
    @Option(help: "Daemon endpoint (default: the policy or control endpoint of --config).") var endpoint: String?
    @Option(help: "The daemon's config, read for its endpoints when --endpoint is not given (default: etc/reflexd.yaml in this folder, else /etc/reflexd/reflexd.yaml, else tcp://127.0.0.1:5555 and :5557).")
    var config: String?
    @Option(help: "Reply timeout, milliseconds.") var timeoutMs = 5000
    @Option(help: "CURVE: the server's public key (Z85 or key file).") var serverKey: String?
    @Option(help: "CURVE: this client's secret key (Z85 or key file).") var clientSecret: String?

    enum Socket { case policy, control }

    /// `--endpoint`, else the endpoint of that socket in the daemon's config (`--config`, else
    /// ./etc/reflexd.yaml — `tools/run`'s — else /etc/reflexd/reflexd.yaml — `tools/install`'s),
    /// else the shipped defaults. A config named by --config that cannot be read is an error;
    /// a default one is skipped with a warning.
    func endpoint(_ socket: Socket) throws -> String {
        if let endpoint { return endpoint }
        let candidates = config.map { [$0] } ?? ["etc/reflexd.yaml", "/etc/reflexd/reflexd.yaml"]
        for path in candidates where config != nil || FileManager.default.fileExists(atPath: path) {
            do {
                let endpoints = try ConfigLoader.load(path: path).endpoints
                return socket == .policy ? endpoints.policy : endpoints.control
            } catch {
                let first = error.problems.first.map(\.description) ?? "\(error)"
                if config != nil { throw ValidationError("--config \(path): \(first)") }
                FileHandle.standardError.write(Data("reflexctl: ignoring \(path) for the endpoint: \(first)\n".utf8))
            }
        }
        return socket == .policy ? "tcp://127.0.0.1:5555" : "tcp://127.0.0.1:5557"
    }

    func curve() throws -> ClientCurveKeys? {
        guard let s = serverKey, let c = clientSecret else {
            if serverKey != nil || clientSecret != nil { throw ValidationError("CURVE needs both --server-key and --client-secret") }
            return nil
        }
        return try ClientCurveKeys(serverPublic: s, clientSecret: c)
    }
}

func printJSON(_ obj: Any) {
    let data = (try? JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
    print(String(decoding: data, as: UTF8.self))
}

struct StepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "step", abstract: "Send one observation to a running daemon and print the reply.")

    @OptionGroup var connection: DaemonConnection
    @Option(help: "A camera image, .npy (uint8 H×W×C, C order): FILE for the input `image`, or NAME=FILE for the camera input NAME; once per camera.")
    var image: [String] = []
    @Option(help: "Robot state, .npy (float32 [D]).") var state: String?
    @Flag(help: "Send a synthetic observation of the shapes the daemon's model expects (every input); --image and --state replace parts of it.")
    var synthetic = false
    @Option(help: "The task in words.") var instruction: String
    @Option(help: "Robot id.") var robot = "cli"
    @Option(help: "A tighter deadline for this step, milliseconds.") var deadlineMs: Double?

    func validate() throws {
        if !synthetic && (image.isEmpty || state == nil) { throw ValidationError("give --image (one per camera) and --state, or --synthetic") }
    }

    func run() throws {
        let client = try PolicyClient(endpoint: try connection.endpoint(.policy), timeoutMs: connection.timeoutMs,
                                      curve: try connection.curve())
        var tensors: [(name: String, dtype: String, shape: [Int], bytes: [UInt8])] = []
        if synthetic {
            let pong = try client.request(["type": "ping", "robot": robot])
            if pong.type == "error" { try failWithReply(pong) }
            guard case .object(let o) = pong.header, case .array(let inputs)? = o["inputs"] else {
                throw ValidationError("the daemon did not say which inputs its model expects")
            }
            for case .object(let spec) in inputs {
                guard case .string(let name)? = spec["name"], case .string(let dtype)? = spec["dtype"],
                      case .array(let dims)? = spec["shape"] else { continue }
                let shape = dims.compactMap { if case .number(let n) = $0 { return n.int }; return nil }
                let count = shape.reduce(1, *)
                // A mid-grey image and a zero state: a valid observation, not a meaningful one.
                let bytes = dtype == "uint8" ? [UInt8](repeating: 128, count: count) : [UInt8](repeating: 0, count: 4 * count)
                tensors.append((name, dtype, shape, bytes))
            }
        }
        var files = try image.map { arg -> (String, String) in
            guard let eq = arg.firstIndex(of: "=") else { return ("image", arg) }
            let name = String(arg[..<eq]), path = String(arg[arg.index(after: eq)...])
            guard !name.isEmpty, !path.isEmpty else { throw ValidationError("--image '\(arg)' is not FILE or NAME=FILE") }
            return (name, path)
        }
        if let state { files.append(("state", state)) }
        for (name, path) in files {
            let npy = try NumpyFile(path: path)
            tensors.removeAll { $0.name == name }
            tensors.append((name, npy.dtype, npy.shape, npy.bytes))
        }
        var fields: [String: Any] = ["type": "step", "robot": robot, "instruction": instruction]
        if let d = deadlineMs { fields["deadline_ms"] = d }
        let reply = try client.request(fields, tensors: tensors)
        if reply.type == "error" { try failWithReply(reply) }
        print(String(decoding: reply.headerBytes, as: UTF8.self))
        if let bytes = reply.frames.first {
            let action: [Float] = stride(from: 0, to: bytes.count, by: 4).map { (i: Int) -> Float in
                let b: [UInt32] = (0..<4).map { UInt32(bytes[i + $0]) << UInt32(8 * $0) }
                return Float(bitPattern: b[0] | b[1] | b[2] | b[3])
            }
            print(Self.actionText(action, shape: Self.actionShape(reply.header)))
        }
    }

    /// The reply's action shape (`tensors[0].shape`), or nil.
    static func actionShape(_ header: WireJSON) -> [Int]? {
        guard case .object(let o) = header, case .array(let tensors)? = o["tensors"], case .object(let t)? = tensors.first,
              case .array(let dims)? = t["shape"] else { return nil }
        let shape = dims.compactMap { if case .number(let n) = $0 { return n.int }; return nil }
        return shape.count == dims.count ? shape : nil
    }

    /// `action: [a, b, …]` for one action; for a chunk [H, A], one row per control period.
    static func actionText(_ values: [Float], shape: [Int]?) -> String {
        func row(_ r: ArraySlice<Float>) -> String { "[" + r.map { String(format: "%.6f", $0) }.joined(separator: ", ") + "]" }
        guard let shape, shape.count == 2, shape[0] * shape[1] == values.count, shape[1] > 0 else { return "action: " + row(values[...]) }
        var text = "action chunk [\(shape[0]), \(shape[1])]:"
        for t in 0..<shape[0] { text += String(format: "\n  %3d: ", t) + row(values[(t * shape[1])..<((t + 1) * shape[1])]) }
        return text
    }
}

/// An error reply: its header on stderr, exit status 1 (CONTRACT section 8).
func failWithReply(_ reply: PolicyClient.Reply) throws -> Never {
    var text = String(decoding: reply.headerBytes, as: UTF8.self)
    if case .object(let o) = reply.header, case .string(let code)? = o["code"], case .string(let message)? = o["message"] {
        text = "error: \(code): \(message)\n" + text
    }
    FileHandle.standardError.write(Data((text + "\n").utf8))
    throw ExitCode(1)
}

/// `stats`, `pause`, `resume`, `reload`: one control command, its JSON answer printed.
struct ControlCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "control", abstract: "Send a raw control command (JSON object).", shouldDisplay: false)
    @OptionGroup var connection: DaemonConnection
    @Argument var json: String
    func run() throws {
        guard let obj = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else { throw ValidationError("not a JSON object") }
        printJSON(try ControlRequest.send(obj, endpoint: try connection.endpoint(.control), timeoutMs: connection.timeoutMs, curve: try connection.curve()))
    }
}

func control(_ cmd: [String: Any], _ c: DaemonConnection) throws {
    printJSON(try ControlRequest.send(cmd, endpoint: try c.endpoint(.control), timeoutMs: c.timeoutMs, curve: try c.curve()))
}

struct StatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stats", abstract: "Print the daemon's counters, thresholds and budget (JSON).")
    @OptionGroup var connection: DaemonConnection
    func run() throws { try control(["cmd": "stats"], connection) }
}

struct PauseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pause", abstract: "Operator stop: steps are answered 'paused' until resume.")
    @OptionGroup var connection: DaemonConnection
    func run() throws { try control(["cmd": "pause"], connection) }
}

struct ResumeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "resume", abstract: "Serve steps again after a pause.")
    @OptionGroup var connection: DaemonConnection
    func run() throws { try control(["cmd": "resume"], connection) }
}

struct ReloadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "reload", abstract: "Re-read the config file (as SIGHUP).")
    @OptionGroup var connection: DaemonConnection
    func run() throws { try control(["cmd": "reload"], connection) }
}

struct BudgetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "budget", abstract: "Change the budget live: average_fraction=, average_gflops=, deadline_ms=, memory_mb= (null removes a cap).")
    @OptionGroup var connection: DaemonConnection
    @Argument(help: "KEY=VALUE pairs.") var assignments: [String]
    func validate() throws { _ = try command() }

    func run() throws { try control(try command(), connection) }

    func command() throws -> [String: Any] {
        var cmd: [String: Any] = ["cmd": "budget"]
        for a in assignments {
            let parts = a.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { throw ValidationError("'\(a)' is not KEY=VALUE") }
            if parts[1] == "null" { cmd[parts[0]] = NSNull() } else if let v = Double(parts[1]), v.isFinite { cmd[parts[0]] = v } else {
                throw ValidationError("\(parts[0]): '\(parts[1])' is not a finite number (or null)")
            }
        }
        return cmd
    }
}

struct KeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "keygen", abstract: "Write a CURVE key pair: DIR/NAME.public and DIR/NAME.secret (mode 0600).")
    @Option(help: "Directory to write into.") var out: String
    @Option(help: "Key name: letters, digits, '.', '_' and '-' (the key's identity in logs).") var name: String
    /// The name becomes a file name and a `key=NAME` log field: no path, no spaces.
    func validate() throws {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
        guard !name.isEmpty, !name.hasPrefix("."), name.allSatisfy(allowed.contains) else {
            throw ValidationError("--name '\(name)': use letters, digits, '.', '_' and '-' (not first '.'), e.g. arm-1")
        }
    }
    func run() throws {
        let (pub, sec) = try KeyFile.writePair(try CurveKeyPair.generate(), directory: out, name: name)
        print("public key: \(pub)\nsecret key: \(sec)")
    }
}
