import ReflexDaemon
import ReflexScheduler
/// How both fuzzers make input `index` of a run: one seed (a third of the time one the target
/// accepts, so that mutations also probe what it lets through, not only what it refuses) with
/// 1 to 6 stacked mutations. The random numbers come from `stream` of the run's `seed` at
/// `index` alone, so any input a run reports is rebuilt by itself.
enum StackedMutations {
    static func generate<Item>(
        seedCount: Int, acceptedSeeds: [Int], seed: UInt64, stream: UInt64, index: Int,
        seedItem: (Int) -> Item, mutate: (inout Item, inout SplitMix64) -> StaticString
    ) -> (item: Item, seedIndex: Int, mutations: [StaticString]) {
        var rng = SplitMix64(seed: seed, stream: stream, index: index)
        let seedIndex = !acceptedSeeds.isEmpty && rng.chance(1, in: 3) ? rng.pick(acceptedSeeds) : rng.below(seedCount)
        var item = seedItem(seedIndex)
        var mutations: [StaticString] = []
        repeat {
            mutations.append(mutate(&item, &rng))
        } while mutations.count < 6 && rng.chance(1, in: 2)
        return (item, seedIndex, mutations)
    }

    /// "seed name + mutation, mutation, …", as reports and `--replay` print an input.
    static func describe<Name: CustomStringConvertible>(seedName: String, mutations: [Name]) -> String {
        "\(seedName) + " + (mutations.isEmpty ? "nothing" : mutations.map(\.description).joined(separator: ", "))
    }
}
