package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/xsoc/xsoc/internal/detect/ml"
)

// defaultWarninglists is where the MISP warning lists sit beside an xsoc
// checkout.
const defaultWarninglists = "../shared/misp/warninglists"

func runML(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: xsoc ml train dga | eval dga | score NAME...")
		return errUsage
	}
	switch args[0] {
	case "train":
		return mlTrain(args[1:], stdout, stderr)
	case "eval":
		return mlEval(args[1:], stdout, stderr)
	case "score":
		return mlScore(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "xsoc ml: unknown subcommand %q (train, eval, score)\n", args[0])
	return errUsage
}

// mlModel names what "xsoc ml train" and "eval" take: one model kind.
func mlModel(fs *flag.FlagSet, args []string, stderr io.Writer) error {
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if fs.NArg() != 1 || fs.Arg(0) != "dga" {
		fmt.Fprintf(stderr, "usage: xsoc ml %s dga [flags]\n", fs.Name())
		return errUsage
	}
	return nil
}

func mlTrain(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	lists := fs.String("warninglists", defaultWarninglists, "MISP warning lists folder (benign names: "+fmt.Sprint(ml.BenignLists)+")")
	out := fs.String("out", "internal/detect/ml/dga.model", "model file to write (the built-in model lives at internal/detect/ml/dga.model)")
	seed := fs.Uint64("seed", ml.DefaultSplitSeed, "seed of the benign train/validation/test split")
	if err := mlModel(fs, args, stderr); err != nil {
		return err
	}
	benign, err := ml.LoadBenign(*lists)
	if err != nil {
		return err
	}
	train, validate, _ := ml.Split(benign, *seed)
	var mal []string
	for _, f := range ml.Families() {
		mal = append(mal, ml.FamilyLabels(f)...)
	}
	m := ml.TrainDGA(train, mal, validate)
	data, _ := m.MarshalBinary()
	if err := os.WriteFile(*out, data, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "trained on %d benign and %d generated names (%d families); threshold %.4f; wrote %s (%d bytes)\n",
		len(train), len(mal), len(ml.Families()), m.Threshold, *out, len(data))
	return nil
}

func mlEval(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	lists := fs.String("warninglists", defaultWarninglists, "MISP warning lists folder")
	seed := fs.Uint64("seed", ml.DefaultSplitSeed, "seed of the benign train/validation/test split")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := mlModel(fs, args, stderr); err != nil {
		return err
	}
	benign, err := ml.LoadBenign(*lists)
	if err != nil {
		return err
	}
	train, validate, test := ml.Split(benign, *seed)
	ev := ml.EvalDGA(train, validate, test, ml.Families())
	if *asJSON {
		return printJSON(stdout, ev)
	}
	fmt.Fprintf(stdout, "DGA model, leave-one-family-out: each family scored by a model trained without it\n")
	fmt.Fprintf(stdout, "benign names: %d train, %d test (never trained on)\n\n", ev.BenignTrain, ev.BenignTest)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HELD-OUT FAMILY\tNAMES\tROC AUC\tRECALL\tBENIGN FP RATE")
	for _, f := range ev.Families {
		fmt.Fprintf(tw, "%s\t%d\t%.4f\t%.3f\t%.4f\n", f.Family, f.Names, f.AUC, f.Recall, f.FalsePositiveRate)
	}
	tw.Flush()
	fmt.Fprintf(stdout, "\npooled over all folds: ROC AUC %.4f, precision %.3f, recall %.3f\n", ev.AUC, ev.Precision, ev.Recall)
	fmt.Fprintf(stdout, "character-level families only (%s): ROC AUC %.4f\n", fmt.Sprint(ev.CharacterFamilies), ev.CharacterAUC)
	return nil
}

func mlScore(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("score", flag.ContinueOnError)
	model := fs.String("model", "", "model file (default: the built-in model)")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	m := ml.DefaultDGAModel()
	if *model != "" {
		var err error
		if m, err = ml.LoadDGAModel(*model); err != nil {
			return err
		}
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tLABEL\tSCORE\tVERDICT\tWHY")
	for _, name := range fs.Args() {
		label, ok := ml.Label(name)
		if !ok {
			fmt.Fprintf(tw, "%s\t-\t-\tnot scored\tno registrable label\n", name)
			continue
		}
		f := m.Features(label)
		p := m.Probability(&f)
		verdict := "benign"
		if p >= m.Threshold {
			verdict = "generated"
		}
		fmt.Fprintf(tw, "%s\t%s\t%.3f\t%s\t%s\n", name, label, p, verdict, ml.Describe(m.Explain(&f, 3)))
	}
	return tw.Flush()
}
