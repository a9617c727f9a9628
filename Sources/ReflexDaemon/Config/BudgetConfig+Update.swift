import ReflexServing
import ReflexWire
/// Live budget changes from the control socket (`{"cmd":"budget", ...}`), validated by the
/// same rules as the config file.
extension BudgetConfig {
    /// This budget with the budget keys of `fields` applied. Keys: `average_fraction`,
    /// `average_gflops` (either replaces the current average target; not both at once),
    /// `deadline_ms`, `memory_mb` (a number, or null to remove the cap). `cmd` is ignored so the
    /// whole request object can be passed. Throws every problem, each named by its key path.
    public func updated(with fields: JSONObject) throws(ConfigError) -> BudgetConfig {
        var problems: [ConfigProblem] = []
        var budget = self
        func report(_ message: String) { problems.append(ConfigProblem(message: message)) }

        for key in fields.keys.sorted() where key != "cmd" && !ConfigRules.budgetKeys.contains(key) {
            var message = "budget.\(key): unknown key"
            if let suggestion = KeySuggestion.suggestion(for: key, among: ConfigRules.budgetKeys, section: "budget") {
                message += " (did you mean '\(suggestion)'?)"
            }
            report(message)
        }

        /// nil when the key is absent; .some(nil) when it is null; problems reported.
        func number(_ key: String, _ rule: ConfigRules.NumberRule, nullable: Bool) -> Double?? {
            guard let value = fields[key] else { return nil }
            if value == .null {
                if nullable { return .some(nil) }
                report("budget.\(key): must be a number, got null")
                return nil
            }
            guard case .number(let number) = value else {
                report("budget.\(key): must be a number, got \(value.kindDescription)")
                return nil
            }
            let double = number.double
            guard double.isFinite, rule.accepts(double) else {
                report("budget.\(key): \(rule.requirement), got \(number.text)")
                return nil
            }
            return .some(double)
        }

        let fraction = number("average_fraction", ConfigRules.averageFraction, nullable: false)
        let gflops = number("average_gflops", ConfigRules.averageGflops, nullable: false)
        if fields["average_fraction"] != nil, fields["average_gflops"] != nil {
            report("budget: set average_fraction or average_gflops, not both")
        } else if let value = fraction ?? nil {
            budget.average = .fraction(value)
        } else if let value = gflops ?? nil {
            budget.average = .gflops(value)
        }
        if let deadline = number("deadline_ms", ConfigRules.deadlineMs, nullable: true) { budget.deadlineMs = deadline }
        if let memory = number("memory_mb", ConfigRules.memoryMB, nullable: true) { budget.memoryMB = memory }

        guard problems.isEmpty else { throw .invalid(problems) }
        return budget
    }
}
