package config

import (
	"strings"
	"testing"
	"time"
)

func TestTensorBoardSettings(t *testing.T) {
	c, err := Load("t", nil, envOf(map[string]string{"KQI_DATABASE_URL": "x"}))
	if err != nil {
		t.Fatal(err)
	}
	if tb := c.TensorBoard; tb.Command != DefaultTensorBoardCommand || tb.CPU != 1 || tb.MemoryGB != 2 || tb.Idle != time.Hour || tb.Image != "" || tb.Partition != "" {
		t.Errorf("defaults %+v", tb)
	}
	c, err = Load("t", nil, envOf(map[string]string{"KQI_DATABASE_URL": "x", "KQI_TENSORBOARD_IMAGE": "tensorflow/tensorflow:2.16.1",
		"KQI_TENSORBOARD_COMMAND":   "python3 -m tensorboard.main --logdir={logdir} --port={port} --path_prefix={prefix} --bind_all",
		"KQI_TENSORBOARD_PARTITION": "cpu", "KQI_TENSORBOARD_CPU": "2", "KQI_TENSORBOARD_MEMORY_GB": "4", "KQI_TENSORBOARD_IDLE": "20m"}))
	if err != nil {
		t.Fatal(err)
	}
	if tb := c.TensorBoard; tb.Image != "tensorflow/tensorflow:2.16.1" || !strings.HasPrefix(tb.Command, "python3 -m") || tb.Partition != "cpu" || tb.CPU != 2 || tb.MemoryGB != 4 || tb.Idle != 20*time.Minute {
		t.Errorf("set %+v", tb)
	}
	for _, tc := range []struct{ key, value string }{
		{"KQI_TENSORBOARD_COMMAND", "tensorboard --logdir {logdir} --port 6006 --path_prefix {prefix}"}, // no {port}
		{"KQI_TENSORBOARD_COMMAND", "tensorboard --logdir {logdir} --port {port}"},                      // no {prefix}
		{"KQI_TENSORBOARD_CPU", "0"},
		{"KQI_TENSORBOARD_MEMORY_GB", "lots"},
		{"KQI_TENSORBOARD_IDLE", "-5m"},
	} {
		if _, err := Load("t", nil, envOf(map[string]string{"KQI_DATABASE_URL": "x", tc.key: tc.value})); err == nil || !strings.Contains(err.Error(), tc.key) {
			t.Errorf("%s=%q: %v", tc.key, tc.value, err)
		}
	}
}
