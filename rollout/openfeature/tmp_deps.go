package openfeature

import (
	_ "github.com/open-feature/go-sdk/openfeature"
	_ "github.com/open-feature/go-sdk/openfeature/memprovider"
	_ "github.com/open-feature/go-sdk-contrib/providers/flagd/pkg"
)
