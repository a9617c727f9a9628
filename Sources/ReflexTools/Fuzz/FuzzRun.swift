import ReflexDaemon
/// The one entry to fuzzing (`reflexctl fuzz`, the tests): runs the wire and/or config fuzzers
/// over the same corpus and collects their reports.
public enum FuzzRun {
    /// `count` inputs per target, all derived from `seed`. `willRun` is told each input's
    /// target and index before it runs, and index -1 before a target's seeds are first run.
    public static func run(
        count: Int, seed: UInt64, targets: [FuzzTarget] = FuzzTarget.allCases, corpus: FuzzCorpus = .builtIn,
        willRun: ((FuzzTarget, Int) -> Void)? = nil
    ) -> FuzzReport {
        var reports: [FuzzTargetReport] = []
        for target in targets {
            switch target {
            case .wire:
                willRun?(.wire, -1)
                reports.append(WireFuzzer(corpus: corpus).run(count: count, seed: seed) { willRun?(.wire, $0) })
            case .config:
                willRun?(.config, -1)
                reports.append(ConfigFuzzer(corpus: corpus).run(count: count, seed: seed) { willRun?(.config, $0) })
            }
        }
        return FuzzReport(targets: reports)
    }
}
