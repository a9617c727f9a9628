import ArgumentParser
import ReflexDaemon
import ReflexTools

@main
struct ReflexCLI: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reflexctl",
        abstract: "Operator tool for reflexd: inspect models, talk to a running daemon, benchmark.",
        version: ReflexVersion.string,
        subcommands: [InspectCommand.self, StepCommand.self, StatsCommand.self, BudgetCommand.self, PauseCommand.self,
                      ResumeCommand.self, ReloadCommand.self, CalibrateCommand.self, BenchCommand.self, KeygenCommand.self,
                      ControlCommand.self, FuzzCommand.self, TopCommand.self])
}
