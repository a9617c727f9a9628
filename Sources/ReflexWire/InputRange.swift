/// The values a float32 input may hold, per element: `low[i] ... high[i]`.
public struct InputRange: Sendable, Equatable {
    public let low: [Float]
    public let high: [Float]
    /// Where the range comes from, for the error message.
    public let origin: String

    public init(low: [Float], high: [Float], origin: String) {
        precondition(low.count == high.count)
        self.low = low
        self.high = high
        self.origin = origin
    }

    /// How many standard deviations from the training mean an input may be when the bundle
    /// declares no range: far past any real observation, and small enough that the network's
    /// float32 arithmetic stays finite (a state element near 3e38 made the actions NaN).
    public static let defaultStandardDeviations: Float = 1000

    /// `mean ± defaultStandardDeviations · std`, from a bundle's normalisation statistics.
    public static func fromNormalisation(mean: [Float], std: [Float]) -> InputRange {
        let k = defaultStandardDeviations
        return InputRange(low: zip(mean, std).map { $0 - k * $1 }, high: zip(mean, std).map { $0 + k * $1 },
                          origin: "the training mean ± \(Int(k)) standard deviations")
    }

    /// The first element outside the range and its value, or nil. The frame's length is the
    /// input's (checked before); reads unaligned.
    func firstOutside(_ frame: any WireFrame) -> (Int, Float)? {
        frame.withUnsafeBytes { bytes in
            let count = min(bytes.count / 4, low.count)
            for i in 0..<count {
                let value = Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)))
                if !(value >= low[i] && value <= high[i]) { return (i, value) }
            }
            return nil
        }
    }
}
