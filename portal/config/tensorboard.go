package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// TensorBoard is how the site runs TensorBoard (SPEC §7): a small Slurm
// job per set of trainings, reached through the portal's proxy.
type TensorBoard struct {
	// KQI_TENSORBOARD_IMAGE: the container image with tensorboard on its
	// PATH; "" = KQI_DEFAULT_IMAGE.
	Image string
	// KQI_TENSORBOARD_COMMAND: what runs in it; {logdir}, {port} and
	// {prefix} are filled in (quoted) by the portal.
	Command   string
	Partition string        // KQI_TENSORBOARD_PARTITION: "" = the cluster's default partition
	CPU       int           // KQI_TENSORBOARD_CPU: cores
	MemoryGB  int           // KQI_TENSORBOARD_MEMORY_GB: memory
	Idle      time.Duration // KQI_TENSORBOARD_IDLE: stopped after this long with no request through the portal
}

// DefaultTensorBoardCommand is KQI_TENSORBOARD_COMMAND unless the site sets it.
const DefaultTensorBoardCommand = "tensorboard --logdir {logdir} --host 0.0.0.0 --port {port} --path_prefix {prefix}"

// loadTensorBoard reads the KQI_TENSORBOARD_* variables.
func loadTensorBoard(getenv func(string) string) (TensorBoard, []error) {
	tb := TensorBoard{Image: getenv("KQI_TENSORBOARD_IMAGE"), Command: getenv("KQI_TENSORBOARD_COMMAND"),
		Partition: getenv("KQI_TENSORBOARD_PARTITION"), CPU: 1, MemoryGB: 2, Idle: time.Hour}
	var errs []error
	if tb.Command == "" {
		tb.Command = DefaultTensorBoardCommand
	}
	for _, p := range []string{"{port}", "{prefix}"} {
		// The portal proxies /tensorboard/{id}/… unchanged to {port}.
		if !strings.Contains(tb.Command, p) {
			errs = append(errs, fmt.Errorf("KQI_TENSORBOARD_COMMAND: %q must use %s", tb.Command, p))
		}
	}
	count := func(key string, dst *int) {
		if v := getenv(key); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				errs = append(errs, fmt.Errorf("%s: %q is not a positive whole number", key, v))
				return
			}
			*dst = n
		}
	}
	count("KQI_TENSORBOARD_CPU", &tb.CPU)
	count("KQI_TENSORBOARD_MEMORY_GB", &tb.MemoryGB)
	if v := getenv("KQI_TENSORBOARD_IDLE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("KQI_TENSORBOARD_IDLE: %q is not a positive duration like 30m or 2h", v))
		} else {
			tb.Idle = d
		}
	}
	return tb, errs
}
