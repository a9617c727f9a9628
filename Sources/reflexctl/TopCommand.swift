import ArgumentParser
import Foundation
import ReflexDaemon
import ReflexTools
#if canImport(Glibc)
import Glibc
#endif

/// `reflexctl top`: the daemon's `stats`, redrawn once a second in the terminal; `q` quits.
struct TopCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "top", abstract: "Live view of a running daemon (control socket stats), refreshed every second; q quits.")

    @OptionGroup var connection: DaemonConnection
    @Option(help: "Seconds between refreshes.") var interval = 1.0
    @Flag(help: "Print one frame (two samples, `interval` apart) without terminal control, then exit.") var once = false

    func run() throws {
        let endpoint = try connection.endpoint(.control)
        let curve = try connection.curve()
        let timeout = min(connection.timeoutMs, max(100, Int(interval * 1000)))
        func sample() -> Result<[String: Any], Error> {
            Result { try ControlRequest.send(["cmd": "stats"], endpoint: endpoint, timeoutMs: timeout, curve: curve) }
        }
        if once {
            let first = try? sample().get()
            Thread.sleep(forTimeInterval: interval)
            // no answer: the error itself, as `stats` reports it (exit 1, not a usage error)
            let second = try sample().get()
            let frame = TopScreen(stats: second, previous: first, elapsed: interval, width: 80, height: 24, clock: Self.clock(),
                                  interactive: false)
            print(frame.lines().joined(separator: "\n"))
            return
        }
        let terminal = RawTerminal()
        defer { terminal.restore() }
        var previous: [String: Any]?
        var previousAt = Date()
        while true {
            let now = Date()
            let (width, height) = terminal.size
            var lines: [String]
            switch sample() {
            case .success(let stats):
                lines = TopScreen(stats: stats, previous: previous, elapsed: now.timeIntervalSince(previousAt),
                                  width: width, height: height, clock: Self.clock()).lines()
                previous = stats
                previousAt = now
            case .failure(let error):
                lines = ["reflexctl top: no answer from \(endpoint)", String("\(error)".prefix(width)), "", "q quits; retrying every second"]
            }
            terminal.draw(lines)
            let deadline = now.addingTimeInterval(interval)
            while Date() < deadline {
                if let key = terminal.readKey(timeoutMs: Int(max(1, deadline.timeIntervalSinceNow * 1000))), key == "q" || key == "Q" {
                    return
                }
            }
        }
    }

    static func clock() -> String {
        let f = DateFormatter()
        f.dateFormat = "HH:mm:ss"
        return f.string(from: Date())
    }
}

/// The terminal in non-canonical, no-echo mode on the alternate screen; `restore` puts it back.
/// Ctrl-C still stops the program (ISIG stays on) and restores the terminal too.
final class RawTerminal {
    private var saved = termios()
    private let isTTY = isatty(STDIN_FILENO) == 1

    init() {
        if isTTY {
            tcgetattr(STDIN_FILENO, &saved)
            RawTerminal.original = saved
            var raw = saved
            raw.c_lflag &= ~tcflag_t(ICANON | ECHO)
            tcsetattr(STDIN_FILENO, TCSANOW, &raw)
            signal(SIGINT) { _ in RawTerminal.restoreOriginal(); _exit(130) }
            signal(SIGTERM) { _ in RawTerminal.restoreOriginal(); _exit(143) }
        }
        write("\u{1B}[?1049h\u{1B}[?25l")
    }

    nonisolated(unsafe) static var original: termios?

    static func restoreOriginal() {
        if var t = original { tcsetattr(STDIN_FILENO, TCSANOW, &t) }
        let s = "\u{1B}[?25h\u{1B}[?1049l"
        _ = s.withCString { Glibc.write(STDOUT_FILENO, $0, strlen($0)) }
    }

    func restore() { RawTerminal.restoreOriginal() }

    /// Columns and rows (80×24 when unknown).
    var size: (Int, Int) {
        var w = winsize()
        if ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &w) == 0, w.ws_col > 0, w.ws_row > 0 { return (Int(w.ws_col), Int(w.ws_row)) }
        return (80, 24)
    }

    func draw(_ lines: [String]) {
        // Home, then each line cleared to its end: no flicker from clearing the whole screen.
        write("\u{1B}[H" + lines.map { $0 + "\u{1B}[K" }.joined(separator: "\r\n") + "\u{1B}[J")
    }

    /// One key typed within `timeoutMs`, or nil.
    func readKey(timeoutMs: Int) -> Character? {
        var p = pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0)
        guard poll(&p, 1, Int32(timeoutMs)) > 0 else { return nil }
        var byte: UInt8 = 0
        guard read(STDIN_FILENO, &byte, 1) == 1 else {
            // stdin closed: wait out the interval instead of spinning.
            usleep(useconds_t(timeoutMs) * 1000)
            return nil
        }
        return Character(UnicodeScalar(byte))
    }

    private func write(_ s: String) {
        FileHandle.standardOutput.write(Data(s.utf8))
    }
}
