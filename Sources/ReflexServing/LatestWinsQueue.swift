/// The steps waiting for the engine, oldest first, with latest-wins per robot
/// (`limits.pending_per_robot`) and a cap on the whole queue (`capacity`).
///
/// When a robot already has `limit` steps queued, its oldest is superseded (answered `stale` by
/// the caller) and the robot keeps its places in line: its queued steps move up one place each
/// and the new one takes its last place. Removing the oldest and appending the new one instead
/// would send a robot that sends faster than it is served to the back of the line every time,
/// starving it behind robots that send slowly.
package struct LatestWinsQueue<Item> {
    package enum Outcome {
        case queued
        case superseded(Item)   // the robot's oldest step, now replaced
        case full               // the queue holds `capacity` steps already; nothing was queued
    }

    package private(set) var items: [Item] = []
    package let robotOf: (Item) -> String

    package init(robotOf: @escaping (Item) -> String) {
        self.robotOf = robotOf
    }

    package var isEmpty: Bool { items.isEmpty }
    package var count: Int { items.count }

    package mutating func removeFirst() -> Item { items.removeFirst() }

    package mutating func push(_ item: Item, limit: Int, capacity: Int) -> Outcome {
        let robot = robotOf(item)
        let mine = items.indices.filter { robotOf(items[$0]) == robot }
        if mine.count >= max(1, limit) {
            let oldest = items[mine[0]]
            for (place, next) in zip(mine, mine.dropFirst()) { items[place] = items[next] }
            items[mine[mine.count - 1]] = item
            return .superseded(oldest)
        }
        guard items.count < capacity else { return .full }
        items.append(item)
        return .queued
    }

    /// Takes every queued step of `robot` out (a reset voids them); returns them oldest first.
    package mutating func removeAll(robot: String) -> [Item] {
        let mine = items.filter { robotOf($0) == robot }
        items.removeAll { robotOf($0) == robot }
        return mine
    }

    package func contains(robot: String) -> Bool { items.contains { robotOf($0) == robot } }
}
