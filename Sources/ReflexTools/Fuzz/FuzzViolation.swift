import ReflexDaemon
/// An input that broke an invariant of its target: the finding a fuzz run exists for.
public struct FuzzViolation: Sendable, Equatable, CustomStringConvertible {
    /// The input's index in its run: `reflexctl fuzz --seed S --target T --replay INDEX` rebuilds it.
    public var index: Int
    /// Which invariant, in words.
    public var message: String
    /// The seed it was mutated from and the mutations applied.
    public var input: String

    public init(index: Int, message: String, input: String) {
        self.index = index
        self.message = message
        self.input = input
    }

    public var description: String { "input \(index) (\(input)): \(message)" }
}
