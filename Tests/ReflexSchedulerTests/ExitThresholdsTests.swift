import Testing
@testable import ReflexScheduler

@Suite struct ExitThresholdsTests {
    let thresholds = ExitThresholds([0.25, -.infinity, 0.125, 0.5])

    @Test func stopsAtOrUnderTheThreshold() {
        #expect(thresholds.stops(atExit: 1, distance: 0.25))
        #expect(!thresholds.stops(atExit: 1, distance: 0.2501))
        #expect(!thresholds.stops(atExit: 2, distance: 0))
    }

    @Test func lastExitAlwaysStopsEvenOnNaN() {
        #expect(thresholds.values.last == .infinity)
        #expect(thresholds.stops(atExit: 4, distance: .nan))
    }

    @Test func nanNeverStopsOnAThreshold() {
        #expect(!thresholds.stops(atExit: 1, distance: .nan))
    }

    @Test func reportableShowsNullWhereNoThresholdApplies() {
        #expect(thresholds.reportable == [0.25, nil, 0.125, nil])
    }
}
