/// The average compute target: exactly one of the two forms the config accepts.
public enum BudgetAverage: Sendable, Equatable {
    /// `average_fraction`: mean compute per step as a fraction of the full-depth cost, in (0, 1].
    case fraction(Double)
    /// `average_gflops`: mean compute per step in GFLOPs, > 0.
    case gflops(Double)
}
