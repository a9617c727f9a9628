import Testing
@testable import ReflexDaemon

@Suite struct FuzzTests {
    @Test func probe() {
        let yaml = "model: m\nscheduler:\n  window: 1:0:0:0:0:0:0:0:0:0:0:0:0\n"
        let result = Result { () throws(ConfigError) in try ConfigLoader.load(yaml: yaml, path: "/tmp/x.yaml") }
        print(result)
    }
}
