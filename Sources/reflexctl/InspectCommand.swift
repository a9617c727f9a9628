import ArgumentParser
import ReflexDaemon
import ReflexTools

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect", abstract: "Describe a model bundle: inputs, action, exits with GFLOPs and resident bytes.")

    @Argument(help: "Model bundle directory.") var model: String
    @Flag(help: "Print one JSON object.") var json = false

    func run() throws {
        let report = try BundleReport(directory: model)
        print(json ? report.jsonString : report.text, terminator: json ? "\n" : "")
    }
}
