package bench

// SetEventLoop has [Run] drive its clients from one event loop, where
// there is one, or from a goroutine each, and returns a function that
// undoes it.
func SetEventLoop(on bool) (restore func()) {
	old := useEventLoop
	useEventLoop = on && haveEventLoop
	return func() { useEventLoop = old }
}

// HaveEventLoop says whether this system has the event loop.
const HaveEventLoop = haveEventLoop
