package openfeature_test

import (
	"context"
	"fmt"

	"github.com/open-feature/go-sdk/openfeature/isolated"
	"github.com/open-feature/go-sdk/openfeature/memprovider"

	"github.com/dualrun/dualrun/rollout"
	"github.com/dualrun/dualrun/rollout/openfeature"
)

func ExampleNewPolicy() {
	ctx := context.Background()
	// Any OpenFeature provider works; the in-memory one keeps the example
	// self-contained. In a service this is flagd, a vendor's provider, ...
	provider := memprovider.NewInMemoryProvider(map[string]memprovider.InMemoryFlag{
		"checkout.price": {
			Key: "checkout.price", State: memprovider.Enabled, DefaultVariant: "on",
			Variants: map[string]any{"on": "shadow"},
		},
	})
	api := isolated.NewAPI() // or the global API: openfeature.SetProviderAndWait
	if err := api.SetProviderAndWait(ctx, provider); err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = api.Shutdown(ctx) }()

	policy := openfeature.NewPolicy(api.NewClient(), openfeature.WithExperiments("checkout.price"))
	defer policy.Close()
	// Pass the policy to dualrun: dualrun.WithRollout(policy).
	d := policy.Decide(rollout.WithKey(ctx, "account-1"), "checkout.price")
	fmt.Println(policy, "→", d.Primary, "primary, shadow:", d.Shadow)

	// Cut over in the flag system: the policy follows the provider's
	// change event (Refresh here only makes the example deterministic).
	provider.UpdateFlags(map[string]memprovider.InMemoryFlag{
		"checkout.price": {
			Key: "checkout.price", State: memprovider.Enabled, DefaultVariant: "on",
			Variants: map[string]any{"on": map[string]any{"primary": "candidate", "shadow_percent": 100}},
		},
	})
	_ = policy.Refresh(ctx)
	d = policy.Decide(rollout.WithKey(ctx, "account-1"), "checkout.price")
	fmt.Println(policy, "→", d.Primary, "primary, shadow:", d.Shadow)

	// A bad value is reported (otel.Handle, dualrun.rollout.errors) and
	// the last good value stays.
	provider.UpdateFlags(map[string]memprovider.InMemoryFlag{
		"checkout.price": {
			Key: "checkout.price", State: memprovider.Enabled, DefaultVariant: "on",
			Variants: map[string]any{"on": "candidat"},
		},
	})
	fmt.Println(policy.Refresh(ctx))
	fmt.Println(policy.Load("checkout.price"))
	// Output:
	// openfeature (cached): checkout.price = shadow 100% → legacy primary, shadow: true
	// openfeature (cached): checkout.price = shadow 100%, candidate primary 100% → candidate primary, shadow: true
	// dualrun/rollout/openfeature: experiment "checkout.price": unknown_side: "candidat": want "legacy", "shadow", "candidate" or "candidate-only"; keeping the last good value, shadow 100%, candidate primary 100%
	// shadow 100%, candidate primary 100%
}
