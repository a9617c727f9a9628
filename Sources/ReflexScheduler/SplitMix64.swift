/// SplitMix64 (Steele, Lea and Flood, 2014): a tiny seeded generator whose stream is the same on
/// every platform and Swift version, so that the scheduler's probe choices and a fuzz run are
/// reproduced from their seed alone. The one generator of the package.
///
/// `below`, `chance` and `pick` are written out rather than taken from the standard library's
/// `random(in:using:)`, whose way of drawing from a generator is not promised to stay the same.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) {
        state = seed
    }

    /// A generator for one item of a stream (the `index`-th input of a run): inputs can then be
    /// regenerated one at a time, without replaying the ones before. The starting state is the
    /// index hashed (SplitMix64's output function is a bijection), not the index times the step,
    /// which would make input i+1's numbers those of input i shifted by one.
    public init(seed: UInt64, stream: UInt64, index: Int) {
        var streamMixer = SplitMix64(seed: seed ^ (stream &* 0xD1B5_4A32_D192_ED03))
        var indexMixer = SplitMix64(seed: streamMixer.next() &+ UInt64(truncatingIfNeeded: index) &* 0x9E37_79B9_7F4A_7C15)
        state = indexMixer.next()
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in `0..<bound` (`bound` > 0), by the high half of a 64×64-bit product.
    public mutating func below(_ bound: Int) -> Int {
        precondition(bound > 0, "below(\(bound))")
        return Int(next().multipliedFullWidth(by: UInt64(bound)).high)
    }

    /// True with probability `numerator / denominator`.
    public mutating func chance(_ numerator: Int, in denominator: Int) -> Bool {
        below(denominator) < numerator
    }

    /// Uniform in [0, 1) with 53 random bits.
    public mutating func nextUnit() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// One of `items` (not empty), uniformly.
    public mutating func pick<Element>(_ items: [Element]) -> Element {
        items[below(items.count)]
    }
}
