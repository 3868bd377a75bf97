package safe

import "runtime"

func runtimeGoexit() { runtime.Goexit() }
