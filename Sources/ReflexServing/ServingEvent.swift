/// What the serving core hands to the layer above, in the order it happens.
package enum ServingEvent {
    /// Send this on the policy socket.
    case reply(ServingReply)
    /// Send this on the actions socket (after the action's reply).
    case publish(PublishedAction)
    /// A step was served and answered.
    case served(ServedStep)
    /// The model produced a non-finite action: the robot's state was reset and the step is
    /// answered `internal` (the next event).
    case nonFiniteAction(robot: String, exit: Int)
}
