// Command hello is the program that BuildGo's test builds.
package main

import "fmt"

func main() { fmt.Println("hello from a built binary") }
