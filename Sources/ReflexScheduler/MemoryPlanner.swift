/// How deep the model may be loaded under `memory_mb`: the deepest exit whose resident bytes
/// fit. Layers past it are not loaded, and that exit becomes the final one.
public struct MemoryPlanner: Sendable {
    /// `residentBytes[i]`: model bytes needed to run up to exit i+1 (non-decreasing).
    public let residentBytes: [Int]

    public init(residentBytes: [Int]) throws {
        guard !residentBytes.isEmpty, residentBytes.allSatisfy({ $0 > 0 }),
              zip(residentBytes, residentBytes.dropFirst()).allSatisfy({ $0 <= $1 }) else {
            throw SchedulerError.invalidConfiguration(
                "resident bytes per exit must be positive and non-decreasing: \(residentBytes)")
        }
        self.residentBytes = residentBytes
    }

    /// How many exits to load (the deepest exit that fits, 1-based): all of them without a cap;
    /// throws `.memoryTooSmall` when even exit 1 does not fit. `memoryMB` is in MiB.
    public func loadedExits(memoryMB: Double?) throws -> Int {
        guard let memoryMB else { return residentBytes.count }
        guard memoryMB.isFinite, memoryMB > 0 else {
            throw SchedulerError.invalidBudget("memory_mb must be a positive number, got \(memoryMB)")
        }
        let cap = memoryMB * 1_048_576  // exact for any byte count below 2^53
        let fitting = residentBytes.prefix { Double($0) <= cap }.count
        guard fitting > 0 else {
            throw SchedulerError.memoryTooSmall(capMB: memoryMB, firstExitBytes: residentBytes[0])
        }
        return fitting
    }
}
