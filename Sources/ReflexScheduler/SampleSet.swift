/// Weighted distance samples stored by column, each column's order sorted once, so that a
/// solver run walks prefixes instead of sorting, and a few probes merge into a large
/// calibration set in linear time.
struct SampleSet: Sendable {
    /// columns[i][n]: sample n's distance at exit i+1.
    let columns: [[Double]]
    /// order[i]: sample indices by ascending distance at exit i+1.
    let order: [[Int]]
    var weights: [Double]

    var count: Int { weights.count }

    /// Uses the first `columns` distances of every row; all must be finite and ≥ 0.
    init(rows: [[Float]], columns used: Int, weights: [Double]? = nil) throws {
        if let w = weights {
            guard w.count == rows.count, w.allSatisfy({ $0.isFinite && $0 >= 0 }) else {
                throw SchedulerError.invalidCalibration("need one finite weight ≥ 0 per sample")
            }
        }
        var columns = Array(repeating: [Double](), count: used)
        for (n, row) in rows.enumerated() {
            guard row.count >= used else {
                throw SchedulerError.invalidCalibration("sample \(n) has \(row.count) distances, need \(used)")
            }
            for i in 0..<used {
                guard row[i].isFinite, row[i] >= 0 else {
                    throw SchedulerError.invalidCalibration("sample \(n), exit \(i + 1): distance \(row[i])")
                }
                columns[i].append(Double(row[i]))
            }
        }
        self.columns = columns
        order = columns.map { col in col.indices.sorted { col[$0] < col[$1] } }
        self.weights = weights ?? Array(repeating: 1, count: rows.count)
    }

    private init(columns: [[Double]], order: [[Int]], weights: [Double]) {
        self.columns = columns
        self.order = order
        self.weights = weights
    }

    /// This set followed by `other` (indices of `other` shifted), keeping the columns both have.
    func merged(with other: SampleSet) -> SampleSet {
        let used = min(columns.count, other.columns.count)
        let shift = count
        var mergedColumns: [[Double]] = [], mergedOrder: [[Int]] = []
        for i in 0..<used {
            let a = columns[i], b = other.columns[i]
            var out: [Int] = []
            out.reserveCapacity(a.count + b.count)
            var x = 0, y = 0
            let oa = order[i], ob = other.order[i]
            while x < oa.count || y < ob.count {
                if y == ob.count || (x < oa.count && a[oa[x]] <= b[ob[y]]) {
                    out.append(oa[x]); x += 1
                } else {
                    out.append(ob[y] + shift); y += 1
                }
            }
            mergedColumns.append(a + b)
            mergedOrder.append(out)
        }
        return SampleSet(columns: mergedColumns, order: mergedOrder, weights: weights + other.weights)
    }
}
