/// The one quantile rule of the package, for the scheduler's windows, the daemon's latency
/// figures and the benchmarks alike.
public enum Quantile {
    /// The nearest-rank quantile of values sorted ascending (Hyndman and Fan's type 1): the
    /// smallest value with at least a fraction `q` (0 … 1) of the values at or below it. It never
    /// interpolates, so with few values a high quantile is their maximum. nil when empty.
    public static func nearestRank<T>(_ sorted: [T], _ q: Double) -> T? {
        guard !sorted.isEmpty else { return nil }
        let rank = Int((q * Double(sorted.count)).rounded(.up))
        return sorted[min(max(rank, 1), sorted.count) - 1]
    }
}
