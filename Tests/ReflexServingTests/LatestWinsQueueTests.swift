import Testing

@testable import ReflexServing

/// The serving queue's order: oldest first, latest wins per robot without losing the robot's
/// place in line, a cap on the whole queue, resets take a robot's steps out.
@Suite struct LatestWinsQueueTests {
    struct Step: Equatable {
        let robot: String
        let seq: Int
    }

    func queue(_ steps: [Step], limit: Int = 1, capacity: Int = 16) -> LatestWinsQueue<Step> {
        var q = LatestWinsQueue<Step>(robotOf: \.robot)
        for s in steps { _ = q.push(s, limit: limit, capacity: capacity) }
        return q
    }

    @Test func servesOldestFirst() {
        var q = queue([Step(robot: "a", seq: 1), Step(robot: "b", seq: 1), Step(robot: "c", seq: 1)])
        #expect(q.removeFirst() == Step(robot: "a", seq: 1))
        #expect(q.removeFirst() == Step(robot: "b", seq: 1))
        #expect(q.count == 1)
    }

    @Test func aNewerStepSupersedesTheOldestAndKeepsItsPlace() {
        var q = queue([Step(robot: "a", seq: 1), Step(robot: "b", seq: 1), Step(robot: "c", seq: 1)])
        guard case .superseded(let old) = q.push(Step(robot: "a", seq: 2), limit: 1, capacity: 16) else {
            Issue.record("a's second step must supersede its first")
            return
        }
        #expect(old == Step(robot: "a", seq: 1))
        // a stays first in line: a robot that sends faster than it is served is not starved
        #expect(q.items == [Step(robot: "a", seq: 2), Step(robot: "b", seq: 1), Step(robot: "c", seq: 1)])
    }

    @Test func withTwoPendingARobotsStepsStayInOrder() {
        var q = queue([Step(robot: "a", seq: 1), Step(robot: "b", seq: 1), Step(robot: "a", seq: 2)], limit: 2)
        guard case .superseded(let old) = q.push(Step(robot: "a", seq: 3), limit: 2, capacity: 16) else {
            Issue.record("a's third step must supersede its first")
            return
        }
        #expect(old.seq == 1)
        #expect(q.items == [Step(robot: "a", seq: 2), Step(robot: "b", seq: 1), Step(robot: "a", seq: 3)])
    }

    @Test func aFullQueueRefusesNewRobotsButStillTakesNewerSteps() {
        var q = queue([Step(robot: "a", seq: 1), Step(robot: "b", seq: 1)], capacity: 2)
        guard case .full = q.push(Step(robot: "c", seq: 1), limit: 1, capacity: 2) else {
            Issue.record("a third robot must find the queue full")
            return
        }
        guard case .superseded = q.push(Step(robot: "b", seq: 2), limit: 1, capacity: 2) else {
            Issue.record("b's newer step replaces its own, full or not")
            return
        }
        #expect(q.items == [Step(robot: "a", seq: 1), Step(robot: "b", seq: 2)])
    }

    @Test func removeAllTakesOneRobotsSteps() {
        var q = queue([Step(robot: "a", seq: 1), Step(robot: "b", seq: 1), Step(robot: "a", seq: 2)], limit: 2)
        #expect(q.removeAll(robot: "a") == [Step(robot: "a", seq: 1), Step(robot: "a", seq: 2)])
        #expect(q.items == [Step(robot: "b", seq: 1)])
        #expect(!q.contains(robot: "a") && q.contains(robot: "b"))
    }
}
