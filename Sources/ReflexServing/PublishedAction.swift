/// The copy of an action reply for the actions (PUB) socket, under the robot id as its topic.
package struct PublishedAction: Equatable {
    package let robot: String
    package let header: [UInt8]
    package let action: [UInt8]
}
