/// The last `capacity` steps: their costs (a ring, with a running sum) and the complete distance
/// vectors of the probes among them.
struct StepWindow {
    let capacity: Int
    private var costs: [Double]
    private var oldest = 0
    private(set) var count = 0
    private(set) var sum = 0.0
    /// Probes still inside the window, oldest first, with the step number they were taken at.
    private(set) var probes: [(step: Int, distances: [Float])] = []

    init(capacity: Int) {
        self.capacity = capacity
        costs = Array(repeating: 0, count: capacity)
    }

    mutating func append(cost: Double, step: Int, probe distances: [Float]?) {
        if count == capacity {
            sum -= costs[oldest]
            costs[oldest] = cost
            oldest = (oldest + 1) % capacity
        } else {
            costs[(oldest + count) % capacity] = cost
            count += 1
        }
        sum += cost
        if let distances { probes.append((step, distances)) }
        while let first = probes.first, step - first.step >= capacity { probes.removeFirst() }
    }

    /// Sum of the `m` oldest costs in the window.
    func sumOfOldest(_ m: Int) -> Double {
        (0..<min(m, count)).reduce(0) { $0 + costs[(oldest + $1) % capacity] }
    }

    /// Re-adds the costs so that rounding in the running sum cannot drift over a long run.
    mutating func resum() {
        sum = sumOfOldest(count)
    }
}
