import ArgumentParser
import ReflexDaemon

@main
struct ReflexCLI: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reflex",
        abstract: "Operator tool for reflexd: inspect models, talk to a running daemon, benchmark.",
        version: ReflexVersion.string,
        subcommands: [InspectCommand.self, BenchCommand.self])
}
