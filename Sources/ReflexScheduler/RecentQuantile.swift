/// Quantiles of the last `capacity` values, kept sorted as they arrive: O(capacity) per value
/// (a memmove), O(1) per query — the deadline guard asks far more often than it learns.
struct RecentQuantile: Sendable {
    let capacity: Int
    private var arrival: [Double] = []
    private var next = 0
    private(set) var sorted: [Double] = []

    init(capacity: Int) { self.capacity = capacity }

    var count: Int { sorted.count }

    mutating func add(_ x: Double) {
        if arrival.count == capacity {
            sorted.remove(at: index(of: arrival[next]))
            arrival[next] = x
            next = (next + 1) % capacity
        } else {
            arrival.append(x)
        }
        sorted.insert(x, at: index(of: x))
    }

    /// Nearest-rank quantile: never interpolates below an observed value, so with few values a
    /// high quantile is their maximum.
    func quantile(_ q: Double) -> Double? {
        Quantile.nearestRank(sorted, q)
    }

    /// First position whose value is not below x.
    private func index(of x: Double) -> Int {
        var lo = 0, hi = sorted.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if sorted[mid] < x { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }
}
