/// The `security` section.
public struct SecurityConfig: Sendable, Equatable {
    public var curve: CurveConfig

    public init(curve: CurveConfig = CurveConfig()) {
        self.curve = curve
    }
}
