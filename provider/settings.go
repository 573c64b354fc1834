package provider

import (
	"encoding/json"
	"fmt"
)

// settingsKey is where the provider keeps its Settings in the SettingsStore.
const settingsKey = "provider"

// Settings are the provider's persistent options.
type Settings struct {
	Disabled          bool     `json:"disabled,omitempty"`          // the "additional provider" switch, off
	AlwaysUV          bool     `json:"alwaysUv,omitempty"`          // CTAP 2.1 §7.2.2 alwaysUv
	MinPINLength      uint     `json:"minPinLength,omitempty"`      // 0 means the default, 4
	ForcePINChange    bool     `json:"forcePinChange,omitempty"`    // set by setMinPINLength
	MinPINLengthRPIDs []string `json:"minPinLengthRpIds,omitempty"` // RPs that may read minPinLength
	PINLength         uint     `json:"pinLength,omitempty"`         // code points of the current PIN (§6.11.4 needs it)
}

// DefaultMinPINLength is CTAP 2.1's minimum PIN length, in code points.
const DefaultMinPINLength = 4

// Enabled reports whether the provider answers credential operations.
func (s Settings) Enabled() bool { return !s.Disabled }

// MinPIN is the minimum PIN length in force.
func (s Settings) MinPIN() uint {
	if s.MinPINLength < DefaultMinPINLength {
		return DefaultMinPINLength
	}
	return s.MinPINLength
}

func (p *Provider) loadSettings() error {
	b, err := p.store.Setting(settingsKey)
	if err != nil {
		return fmt.Errorf("provider: cannot read settings: %w", err)
	}
	var s Settings
	if b != nil {
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("provider: stored settings are damaged: %w", err)
		}
	}
	p.mu.Lock()
	p.settings = s
	p.mu.Unlock()
	return nil
}

// Settings returns the settings in force.
func (p *Provider) Settings() Settings {
	p.mu.RLock()
	defer p.mu.RUnlock()
	s := p.settings
	s.MinPINLengthRPIDs = append([]string(nil), s.MinPINLengthRPIDs...)
	return s
}

// UpdateSettings changes the settings durably, in one step.
func (p *Provider) UpdateSettings(fn func(*Settings)) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.settings
	s.MinPINLengthRPIDs = append([]string(nil), s.MinPINLengthRPIDs...)
	fn(&s)
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	if err := p.store.PutSetting(settingsKey, b); err != nil {
		return fmt.Errorf("provider: cannot save settings: %w", err)
	}
	p.settings = s
	return nil
}

// SetEnabled turns the provider on or off (the "additional provider" switch).
func (p *Provider) SetEnabled(on bool) error {
	return p.UpdateSettings(func(s *Settings) { s.Disabled = !on })
}
