/// What a reload changed in what is served.
package enum ServingReload: Equatable {
    /// Another bundle or engine setting: the model was loaded again. When its weights differ
    /// (sha256), every session's recurrent state and the statistics start afresh.
    case modelLoaded(sessionsReset: Bool)
    /// The same model: only the budget was applied; `loadedExits` when its memory cap moved
    /// the last loaded exit.
    case budgetApplied(loadedExits: Int?)
}
